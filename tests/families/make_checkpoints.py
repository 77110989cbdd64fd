# Tiny random checkpoints of the families tailor loads, each as transformers saves it (config.json,
# model.safetensors, generation_config.json) with its usual tokenizer: byte-level BPE tokenizer.json trained
# here with HF tokenizers (Llama-3, Qwen2/3, SmolLM), or SentencePiece tokenizer.model (TinyLlama, Mistral).
# Usage: make_checkpoints.py OUT_DIR [FAMILY...]   (all families when none are named)
import io
import json
import os
import sys

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
import transformers
from transformers import GenerationConfig, PreTrainedTokenizerFast

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def corpus():
    # The student's own format (METHOD.md's prompts over generated arithmetic) and some plain prose.
    lines = []
    for i in range(400):
        a, b, c = (i * 37) % 97, (i * 11) % 53 + 1, (i * 7) % 13
        lines.append(f"Question: What is {a} + {b} * {c}?\nReasoning: {b} * {c} = {b * c}. {a} + {b * c} = "
                     f"{a + b * c}.\nAnswer: {a + b * c}\n\n")
        lines.append(f"Tom has {a} apples and buys {b} more. How many does he have now? Therefore, the answer is "
                     f"{a + b}.")
    return lines


def byte_level_bpe(split, specials, bos, ignore_merges, nfc, vocab_size=420):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if nfc:
        tok.normalizer = normalizers.NFC()
    if split is None:  # GPT-2 / SmolLM: ByteLevel's own regex
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def sentencepiece_model():
    import sentencepiece as spm
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_writer=model, vocab_size=200, model_type="bpe",
        user_defined_symbols=["\n"], normalization_rule_name="identity", remove_extra_whitespaces=False,
        split_digits=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, byte_fallback=False, minloglevel=2)
    return model.getvalue()


def save_fast(tok, out, **special):
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **special)
    fast.save_pretrained(out)


def small(config_class, vocab, **extra):
    base = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024)
    base.update(extra)
    return config_class(**base)


def make(family, out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    if family == "llama3":
        specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
                    "<|end_header_id|>"]
        tok = byte_level_bpe(LLAMA3_SPLIT, specials, "<|begin_of_text|>", ignore_merges=True, nfc=False)
        ids = {s: tok.token_to_id(s) for s in specials}
        save_fast(tok, out, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>")
        config = small(transformers.LlamaConfig, tok.get_vocab_size(), tie_word_embeddings=True,
                       bos_token_id=ids["<|begin_of_text|>"], eos_token_id=ids["<|end_of_text|>"],
                       rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                                        "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                        "original_max_position_embeddings": 64})
        model = transformers.LlamaForCausalLM(config)
        generation = GenerationConfig(bos_token_id=ids["<|begin_of_text|>"],
                                      eos_token_id=[ids["<|end_of_text|>"], ids["<|eot_id|>"]])
    elif family in ("qwen2", "qwen3"):
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        tok = byte_level_bpe(QWEN2_SPLIT, specials, None, ignore_merges=False, nfc=True)
        ids = {s: tok.token_to_id(s) for s in specials}
        save_fast(tok, out, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
        # Qwen pads its embedding past the tokenizer (Qwen2.5-7B: 152064 rows for 151665 tokens).
        rows = tok.get_vocab_size() + 12
        if family == "qwen2":
            config = small(transformers.Qwen2Config, rows, tie_word_embeddings=True, rope_theta=1000000.0,
                           bos_token_id=None, eos_token_id=ids["<|endoftext|>"])
            model = transformers.Qwen2ForCausalLM(config)
        else:
            config = small(transformers.Qwen3Config, rows, head_dim=24, tie_word_embeddings=True,
                           rope_theta=1000000.0, bos_token_id=None, eos_token_id=ids["<|endoftext|>"])
            model = transformers.Qwen3ForCausalLM(config)
        generation = GenerationConfig(eos_token_id=[ids["<|endoftext|>"], ids["<|im_end|>"]])
    elif family == "smollm":
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        tok = byte_level_bpe(None, specials, None, ignore_merges=False, nfc=False)
        ids = {s: tok.token_to_id(s) for s in specials}
        save_fast(tok, out, bos_token="<|endoftext|>", eos_token="<|endoftext|>")
        config = small(transformers.LlamaConfig, tok.get_vocab_size(), tie_word_embeddings=True,
                       bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|endoftext|>"])
        model = transformers.LlamaForCausalLM(config)
        generation = GenerationConfig(bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|endoftext|>"])
    elif family in ("tinyllama", "mistral"):
        spm = sentencepiece_model()
        with open(os.path.join(out, "tokenizer.model"), "wb") as f:
            f.write(spm)
        import sentencepiece
        vocab = sentencepiece.SentencePieceProcessor(model_proto=spm).get_piece_size()
        if family == "tinyllama":
            config = small(transformers.LlamaConfig, vocab, bos_token_id=1, eos_token_id=2)
            model = transformers.LlamaForCausalLM(config)
        else:
            config = small(transformers.MistralConfig, vocab, sliding_window=4096, bos_token_id=1,
                           eos_token_id=2, rope_theta=1000000.0)
            model = transformers.MistralForCausalLM(config)
        generation = GenerationConfig(bos_token_id=1, eos_token_id=2)
    else:
        raise SystemExit(f"unknown family {family}")
    model.save_pretrained(out)
    generation.save_pretrained(out)


if __name__ == "__main__":
    out = sys.argv[1]
    families = sys.argv[2:] or ["llama3", "qwen2", "qwen3", "smollm", "tinyllama", "mistral"]
    for family in families:
        make(family, os.path.join(out, family))
        print(family, os.path.join(out, family))
