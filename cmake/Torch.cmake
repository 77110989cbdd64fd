# LibTorch from the PyPI torch wheel installed in the project's virtual environment.
#
# The wheel is the CUDA build. Three things make its CMake config work with Debian 12's CMake 3.25 and the
# machine's CUDA toolkit, with no manual step:
# - TORCH_CUDA_ARCH_LIST is set, so the config does not try_run a GPU probe (which needs CUDA20 support that
#   CMake 3.25 lacks, and a GPU);
# - CMAKE_CUDA_STANDARD is 17 for the same reason (tailor compiles no .cu file of its own);
# - the linker gets -rpath-link to the wheel's nvidia/*/lib folders, so libtorch_cuda.so's dependencies
#   (NCCL, cuBLAS, ...) resolve to the wheel's own libraries, not to the older copies in the CUDA toolkit.
# At run time libtorch finds those same libraries through its own RPATH; with no GPU it runs on the CPU.
set(TAILOR_VENV "$ENV{TAILOR_VENV}" CACHE PATH "Virtual environment holding the torch wheel")
if(NOT TAILOR_VENV)
  set(TAILOR_VENV "$ENV{HOME}/.cache/tailor/venv" CACHE PATH "Virtual environment holding the torch wheel" FORCE)
endif()
set(TAILOR_PYTHON "${TAILOR_VENV}/bin/python")
if(NOT EXISTS "${TAILOR_PYTHON}")
  message(FATAL_ERROR "tailor: no Python virtual environment at ${TAILOR_VENV} (set TAILOR_VENV or run ./test.sh, "
                      "which creates it and installs the pinned torch wheel).")
endif()
execute_process(
  COMMAND "${TAILOR_PYTHON}" -c "import torch, os; print(torch.utils.cmake_prefix_path); print(os.path.dirname(os.path.dirname(torch.__file__)))"
  OUTPUT_VARIABLE torch_paths OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_VARIABLE torch_error RESULT_VARIABLE torch_result)
if(NOT torch_result EQUAL 0)
  message(FATAL_ERROR "tailor: `import torch` failed in ${TAILOR_PYTHON}:\n${torch_error}\nRun ./test.sh to install it.")
endif()
string(REPLACE "\n" ";" torch_paths "${torch_paths}")
list(GET torch_paths 0 torch_cmake_prefix)
list(GET torch_paths 1 torch_site_packages)

set(TORCH_CUDA_ARCH_LIST "8.0;8.6;8.9;9.0" CACHE STRING "CUDA architectures LibTorch's config assumes (no GPU probe)")
set(CMAKE_CUDA_STANDARD 17)
list(APPEND CMAKE_PREFIX_PATH "${torch_cmake_prefix}")
find_package(Torch REQUIRED)
message(STATUS "tailor: LibTorch ${Torch_VERSION} from ${torch_site_packages}")

file(GLOB torch_wheel_lib_dirs LIST_DIRECTORIES true "${torch_site_packages}/nvidia/*/lib")
list(JOIN torch_wheel_lib_dirs ":" torch_wheel_rpath_link)

# The one target tailor's code links to get LibTorch.
add_library(tailor_torch INTERFACE)
target_link_libraries(tailor_torch INTERFACE torch)
if(torch_wheel_rpath_link)
  target_link_options(tailor_torch INTERFACE "LINKER:-rpath-link,${torch_wheel_rpath_link}")
endif()
