// Precompiled header for the translation units that use LibTorch: parsed once per target, not per file.
#pragma once

#include <torch/torch.h>
