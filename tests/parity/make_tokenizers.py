"""Small Hugging Face tokenizers shaped like the families tailor loads, and what HF `tokenizers` makes of a hard corpus.

    make_tokenizers.py DIR

Writes, each trained deterministically by `tokenizers`' BpeTrainer on a GSM8K-like corpus in a few seconds:
  DIR/llama3/   byte-level BPE with Llama-3's split regex, ignore_merges, <|begin_of_text|> template, a
                generation_config.json that stops on three ids (as Llama-3's [128001, 128008, 128009])
  DIR/qwen2/    Qwen2's split regex, an NFC normalizer, <|endoftext|>/<|im_start|>/<|im_end|>, no BOS, and
                non-special added tokens (one matched after normalization)
  DIR/gpt2/     GPT-2/SmolLM-style: the ByteLevel pre-tokenizer with its own regex, specials first in the vocab,
                a template that appends <|endoftext|>, an lstrip and a single_word added token, merges written
                in the older "a b" form
  DIR/llama2/   Llama-2-style tokenizer.json without tokenizer.model: Prepend/Replace normalizer, byte_fallback,
                the Replace/ByteFallback/Fuse/Strip decoder
  DIR/mistral/  the same model with a Metaspace pre-tokenizer and decoder
and DIR/expected.json: {"texts": [...], "decode_ids": {name: [[id, ...], ...]}, "tokenizers": {name: {...}}} with,
per tokenizer, the ids of every text without and with special tokens, their decodes with skip_special_tokens
True and False, and the decodes of arbitrary id lists (ids that split a multi-byte character, specials, ids out
of range).
"""

import json
import random
import sys
import unicodedata
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                  r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                 r"\s*[\r\n]+|\s+(?!\S)|\s+")


def word_problems(count, seed):
    """GSM8K-like questions with worked answers: numbers with commas, money, newlines, `#### answer`."""
    rng = random.Random(seed)
    names = ["Natalia", "Weng", "Betty", "Julie", "James", "Albert", "Ken", "Zoë", "José", "Mía", "Søren", "Anaïs"]
    things = ["clips", "apples", "pages", "cupcakes", "marbles", "tickets", "books", "eggs", "dollars' worth of candy"]
    out = []
    for _ in range(count):
        name, thing = rng.choice(names), rng.choice(things)
        a, b, c = rng.randint(2, 99), rng.randint(2, 12), rng.randint(1, 2500)
        price = rng.randint(1, 90) + rng.choice([0, 0.25, 0.5, 0.75])
        question = (f"{name} sold {a} {thing} in April, and then she sold {b} times as many in May. "
                    f"Each costs ${price:.2f}. She also had {c:,} left over. How many {thing} did {name} have "
                    f"altogether in April and May?")
        answer = (f"In May, {name} sold {a} * {b} = <<{a}*{b}={a * b}>>{a * b:,} {thing}.\n"
                  f"Altogether she sold {a} + {a * b} = <<{a}+{a * b}={a + a * b}>>{a + a * b:,} {thing}.\n"
                  f"That is ${(a + a * b) * price:,.2f} in total.\n#### {a + a * b}")
        out.append(question + "\n" + answer)
    return out


def training_corpus():
    extra = [
        "The café's crème brûlée costs €4.50 — naïve façade, jalapeño, Ångström, Øre.",
        "数学题：小明有3个苹果，小红有5个苹果。他们一共有多少个苹果？答：8个。",
        "日本語のテキストとカタカナ、ひらがな。한국어 문장도 있습니다.",
        "Emoji 😀🎉👍🏽 and symbols ∑ ∫ √ ≤ ≥ ≠ ± × ÷ °C.",
        "Tabs\tand  double  spaces,\n\nparagraphs\r\nand Windows line ends.",
        "def f(x):\n    return x ** 2 + 1  # a comment\n",
        "Numbers: 1,234,567 and 3.14159 and 2024-01-31 and 100%.",
        "I'm sure they'll say it's John's, we've seen you'd THEY'RE IT'S.",
    ]
    return word_problems(400, seed=1) + extra * 20


def hard_texts():
    nfd = unicodedata.normalize("NFD", "Café crème, naïve Zoë — Ångström")
    return [
        "",
        " ",
        "Hello world",
        " Hello world",
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
        "How many clips did Natalia sell altogether in April and May?",
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72",
        "1,234,567 + 89,012 = 1,323,579",
        "3.14159265358979 and 0.5 and .5 and 1e-10 and 12345678901234567890",
        "$1,000.00 costs 20% more: $1,200.00",
        "a  b   c    d     e",
        "trailing spaces    ",
        "    leading spaces",
        "line one\nline two\n\nparagraph\n\n\n\nmore",
        "\n\n",
        "\n",
        "tabs\there\t\tand\t \tmixed",
        "windows\r\nline\r\n\r\nends",
        "Café crème brûlée, naïve façade",
        nfd,
        "Ångström Øre æøå ß ŒUVRE",
        "数学题：小明有3个苹果，小红有5个苹果。",
        "日本語のテキスト 한국어 文章",
        "Emoji: 😀🎉 👍🏽 👨‍👩‍👧‍👦 ❤️",
        "I'm sure they'll say it's John's; we've seen you'd. THEY'RE IT'S I'M",
        "can't won't shouldn't 'quoted' \"double\"",
        "<|begin_of_text|>Hello<|eot_id|>",
        "System: <|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant",
        "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
        "text<|endoftext|>more text <|endoftext|> spaced",
        "<s> a sentence </s> and <unk> too",
        "<s>no space</s>after<unk>",
        "<think>reasoning</think> then café and cafe\u0301",
        "a <mask> b <mask>c   <mask>",
        "[WORD] word[WORD] [WORD]s [WORD]",
        "<|begin_of_text|",
        "x" * 300,
        "   \t\n  \u00a0 \u3000 nbsp and ideographic space",
        "\u200bzero\u200bwidth and combining a\u0301e\u0308",
        "Mixed123abc456DEF 7890 ١٢٣ ④ Ⅻ",
        "email@example.com https://example.com/path?q=1&b=2#frag",
        "😀" * 5 + "数" * 7,
    ]


def byte_level(text):
    """GPT-2's byte-to-character map applied to the UTF-8 of `text`."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    extra = iter(range(256, 512))
    mapping = {b: chr(b) if b in printable else chr(next(extra)) for b in range(256)}
    return "".join(mapping[b] for b in text.encode("utf-8"))


def fuzz_texts(count, seed):
    """Random strings from pieces that stress the splitters: whitespace kinds, marks, digits, specials."""
    pieces = ["a", "Z", "word", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u200b",
              "\u0301", "é", "e\u0301", "数", "学", "😀", "👍🏽", "1", "23", "456", "7890", ",", ".", "!?", "'s", "'T",
              "'re", "<|im_start|>", "<|eot_id|>", "<|begin_of_text|>", "<s>", "</s>", "<unk>", "<mask>", "[WORD]",
              "<think>", "café", "<0x41>", "▁", "Ġ", "ı", "İ", "ß", "ﬁ", "①", "٣", "\x00", "\x7f", "$", "%", "#"]
    rng = random.Random(seed)
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 24))) for _ in range(count)]


def train(tokenizer, vocab_size, special_tokens=(), byte_alphabet=True):
    """BpeTrainer on the corpus: byte-level with the 256 byte characters; otherwise on its Latin characters only,
    so that CJK and emoji have no piece and fall back to bytes (limit_alphabet would do it, but breaks ties
    between equally rare characters differently from run to run)."""
    kwargs = {"vocab_size": vocab_size, "special_tokens": list(special_tokens), "show_progress": False}
    corpus = training_corpus()
    if byte_alphabet:
        kwargs["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
    else:
        corpus = ["".join(c for c in text if ord(c) < 0x250) for text in corpus]
    tokenizer.train_from_iterator(corpus, trainers.BpeTrainer(**kwargs))


def save(tokenizer, directory, generation_config=None, **config):
    directory.mkdir(parents=True, exist_ok=True)
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, **config).save_pretrained(str(directory))
    if generation_config is not None:
        (directory / "generation_config.json").write_text(json.dumps(generation_config, indent=2))
    return Tokenizer.from_file(str(directory / "tokenizer.json"))


def llama3(directory):
    tokenizer = Tokenizer(models.BPE(ignore_merges=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    train(tokenizer, 900)
    # Words that are tokens no chain of merges reaches, as Llama-3's vocabulary has them: ignore_merges makes
    # each one token.
    trained = json.loads(tokenizer.to_str())["model"]
    vocab = trained["vocab"]
    for word in (" world", " sentence", "数学题", "x" * 300, " clips", " Ångström"):
        vocab.setdefault(byte_level(word), len(vocab))
    tokenizer.model = models.BPE(vocab=vocab, merges=[tuple(pair) for pair in trained["merges"]], ignore_merges=True)
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
                "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
    tokenizer.add_special_tokens(specials)
    bos = tokenizer.token_to_id("<|begin_of_text|>")
    tokenizer.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    stops = [tokenizer.token_to_id(t) for t in ("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>")]
    return save(tokenizer, directory, {"bos_token_id": bos, "eos_token_id": stops},
                bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")


def qwen2(directory):
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    train(tokenizer, 800)
    tokenizer.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tokenizer.add_tokens([AddedToken("<think>", normalized=False, special=False),
                          AddedToken("</think>", normalized=False, special=False),
                          AddedToken("café", normalized=True, special=False)])
    ids = {t: tokenizer.token_to_id(t) for t in ("<|endoftext|>", "<|im_end|>")}
    return save(tokenizer, directory, {"eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]]},
                eos_token="<|im_end|>", pad_token="<|endoftext|>")


def gpt2(directory):
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    train(tokenizer, 700, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tokenizer.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])
    tokenizer.add_tokens([AddedToken("[WORD]", single_word=True, rstrip=True, special=False)])
    eos = tokenizer.token_to_id("<|endoftext|>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A <|endoftext|>", pair="$A <|endoftext|> $B:1 <|endoftext|>:1",
        special_tokens=[("<|endoftext|>", eos)])
    loaded = save(tokenizer, directory, {"bos_token_id": eos, "eos_token_id": eos},
                  bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>")
    # The older merges encoding ("a b" strings), as GPT-2's and many hub files still have it.
    path = directory / "tokenizer.json"
    document = json.loads(path.read_text())
    document["model"]["merges"] = [" ".join(pair) for pair in document["model"]["merges"]]
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2))
    return Tokenizer.from_file(str(path))


def sentencepiece_style_bpe():
    """A BPE whose vocab starts like Llama-2's: <unk> <s> </s>, the 256 <0xXX> byte tokens, then the pieces."""
    trainer_side = Tokenizer(models.BPE())
    trainer_side.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    trainer_side.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    train(trainer_side, 600, byte_alphabet=False)
    trained = json.loads(trainer_side.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for byte in range(256):
        vocab[f"<0x{byte:02X}>"] = len(vocab)
    for piece, _ in sorted(trained["vocab"].items(), key=lambda item: item[1]):
        vocab.setdefault(piece, len(vocab))
    merges = [tuple(pair) for pair in trained["merges"]]
    return models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True)


def llama2(directory):
    tokenizer = Tokenizer(sentencepiece_style_bpe())
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(" ", 1, 0)])
    tokenizer.add_special_tokens(["<unk>", "<s>", "</s>"])
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s>:1 $B:1",
                                                             special_tokens=[("<s>", 1)])
    return save(tokenizer, directory, {"bos_token_id": 1, "eos_token_id": 2},
                bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def mistral(directory):
    tokenizer = Tokenizer(sentencepiece_style_bpe())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tokenizer.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁",
                                                                                        prepend_scheme="first")])
    tokenizer.add_special_tokens(["<unk>", "<s>", "</s>"])
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s>:1 $B:1",
                                                             special_tokens=[("<s>", 1)])
    return save(tokenizer, directory, None, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def decode_cases(tokenizer, texts):
    """Id lists worth decoding: pieces of encodings that cut multi-byte characters, specials, stray ids."""
    rng = random.Random(7)
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    cases = [[], [size + 5], [0, 1, 2, 3]]
    for text in ("数学题：小明", "😀🎉 👍🏽", "Café crème", "<|im_start|>user\nHi<|im_end|>"):
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        for cut in range(1, len(ids)):
            cases.append(ids[:cut])
            cases.append(ids[cut:])
    for _ in range(40):
        cases.append([rng.randrange(size) for _ in range(rng.randint(1, 12))])
    cases.append(list(range(size)))
    return cases


def expectations(tokenizer, texts, template_has_trailing):
    per_text = []
    for text in texts:
        plain = tokenizer.encode(text, add_special_tokens=False).ids
        special = tokenizer.encode(text, add_special_tokens=True).ids
        per_text.append({
            "ids": plain,
            "ids_with_special": special,
            "decode": tokenizer.decode(plain, skip_special_tokens=True),
            "decode_keep_special": tokenizer.decode(plain, skip_special_tokens=False),
            "decode_with_special": tokenizer.decode(special, skip_special_tokens=True),
            "decode_with_special_keep_special": tokenizer.decode(special, skip_special_tokens=False),
        })
    cases = decode_cases(tokenizer, texts)
    decodes = [{"ids": ids, "skip": tokenizer.decode(ids, skip_special_tokens=True),
                "keep": tokenizer.decode(ids, skip_special_tokens=False)} for ids in cases]
    return {"encodings": per_text, "decodes": decodes, "template_has_trailing": template_has_trailing,
            "vocab_size": tokenizer.get_vocab_size(with_added_tokens=True)}


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    texts = hard_texts() + fuzz_texts(300, seed=3)
    builders = {"llama3": (llama3, False), "qwen2": (qwen2, False), "gpt2": (gpt2, True),
                "llama2": (llama2, False), "mistral": (mistral, False)}
    expected = {"texts": texts, "tokenizers": {}}
    for name, (build, trailing) in builders.items():
        tokenizer = build(out / name)
        expected["tokenizers"][name] = expectations(tokenizer, texts, trailing)
    (out / "expected.json").write_text(json.dumps(expected, ensure_ascii=False))


if __name__ == "__main__":
    main()
