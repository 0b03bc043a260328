"""The training data in tokens: how a token count becomes samples, for language-model runs.

Two ways to make samples of `seq_len` tokens:

- packing: the texts are concatenated and cut into blocks of `seq_len` tokens, and the
  remainder is dropped. This is the `group_texts` idiom of transformers'
  examples/pytorch/language-modeling/run_clm.py (`main`, `group_texts`:
  `total_length = (total_length // block_size) * block_size`, then `t[i : i + block_size]`).
  run_clm.py maps `group_texts` with `batched=True`, so it drops a remainder per map batch
  (1,000 texts by default); the plan drops once, over the whole token count.
- no packing: one document is one sample, truncated or padded to `seq_len` (a tokenizer
  with `truncation=True, padding="max_length"`). Every document is taken to have the mean
  length `tokens_per_document`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .setup import MAX_DATASET_SIZE, SetupError, _int_in
from .text import plural

MAX_TOKENS = 10**15
MAX_SEQ_LEN = 10**9


@dataclass(frozen=True)
class TokenData:
    """The data as tokens, cut into samples of `seq_len` tokens. Give `dataset_tokens`
    (packing only) or `documents` and `tokens_per_document` (their mean length)."""

    seq_len: int
    packing: bool
    dataset_tokens: int | None = None
    documents: int | None = None
    tokens_per_document: int | None = None
    token_budget: int | None = None  # tokens to train: the plan gives the max_steps for it

    def __post_init__(self) -> None:
        _int_in("seq_len", self.seq_len, 1, MAX_SEQ_LEN)
        if not isinstance(self.packing, bool):
            raise SetupError("packing", self.packing, "must be true or false")
        by_documents = self.documents is not None or self.tokens_per_document is not None
        if self.dataset_tokens is not None and by_documents:
            raise SetupError("dataset_tokens", self.dataset_tokens, "give dataset_tokens or documents with tokens_per_document, not both")
        if self.dataset_tokens is None and not by_documents:
            raise SetupError("dataset_tokens", None, "give the data as dataset_tokens, or as documents and tokens_per_document")
        if self.dataset_tokens is not None:
            _int_in("dataset_tokens", self.dataset_tokens, 1, MAX_TOKENS)
            if not self.packing:
                raise SetupError(
                    "dataset_tokens",
                    self.dataset_tokens,
                    "without packing one document is one sample, and a bare token count does not say how many documents:"
                    " give documents and tokens_per_document, or turn packing on",
                )
        else:
            if self.documents is None:
                raise SetupError("documents", None, "tokens_per_document is a mean length: give the number of documents too")
            if self.tokens_per_document is None:
                raise SetupError("tokens_per_document", None, "give the mean tokens per document with documents")
            _int_in("documents", self.documents, 1, MAX_DATASET_SIZE)
            _int_in("tokens_per_document", self.tokens_per_document, 1, MAX_TOKENS)
            if self.documents * self.tokens_per_document > MAX_TOKENS:
                raise SetupError(
                    "tokens_per_document",
                    self.tokens_per_document,
                    f"{self.documents:,} documents of {self.tokens_per_document:,} tokens exceed {MAX_TOKENS:,} tokens",
                )
        if self.token_budget is not None:
            _int_in("token_budget", self.token_budget, 1, MAX_TOKENS)
        if self.samples < 1:
            raise SetupError(
                "seq_len", self.seq_len, f"is longer than all {self.total_tokens:,} tokens of the data: packing makes no sample"
            )
        if self.samples > MAX_DATASET_SIZE:
            raise SetupError(
                "seq_len", self.seq_len, f"cuts the data into {self.samples:,} samples; at most {MAX_DATASET_SIZE:,} (a longer seq_len)"
            )

    @property
    def total_tokens(self) -> int:
        """Tokens in the data before it is cut into samples."""
        if self.dataset_tokens is not None:
            return self.dataset_tokens
        return self.documents * self.tokens_per_document

    @property
    def samples(self) -> int:
        """Samples the data makes: the dataset size every framework counts."""
        if self.packing:
            return self.total_tokens // self.seq_len
        return self.documents

    @property
    def tokens_per_sample(self) -> int:
        """Real (not padding) tokens in one sample."""
        return self.seq_len if self.packing else min(self.tokens_per_document, self.seq_len)

    @property
    def tokens_dropped(self) -> int:
        """Tokens of the data no sample holds: the packing remainder, or the truncated tails."""
        if self.packing:
            return self.total_tokens - self.samples * self.seq_len
        return self.documents * max(0, self.tokens_per_document - self.seq_len)

    @property
    def tokens_padded(self) -> int:
        """Padding tokens the samples carry (packed blocks are always full)."""
        if self.packing:
            return 0
        return self.documents * max(0, self.seq_len - self.tokens_per_document)

    @property
    def notes(self) -> tuple[str, ...]:
        if self.packing:
            return (
                f"Packing cuts the {plural(self.total_tokens, 'token')} into {plural(self.samples, 'sample')} of"
                f" {plural(self.seq_len, 'token')} and drops the remainder ({plural(self.tokens_dropped, 'token')}) once, over the"
                " whole count. transformers' run_clm.py drops it in every map batch of texts (group_texts, 1,000 texts by"
                " default), so a real run can drop a little more.",
            )
        return (
            f"Without packing each document is one sample ({plural(self.documents, 'document')}), truncated or padded to"
            f" {plural(self.seq_len, 'token')}. Every document is taken to have the mean length"
            f" ({plural(self.tokens_per_document, 'token')}); real lengths vary, so a real run truncates and pads more, and"
            " trains fewer real tokens, than this.",
        )

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: object) -> TokenData:
        if not isinstance(data, dict):
            raise SetupError("tokens", type(data).__name__, "must be an object with seq_len, packing and the data's size")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SetupError(unknown[0], data[unknown[0]], f"is not a tokens field (known: {', '.join(sorted(known))})")
        if "seq_len" not in data:
            raise SetupError("seq_len", None, "is required with tokens")
        return cls(**data)


def steps_for_tokens(budget: int, tokens_per_step: int) -> int:
    """The fewest optimizer steps of `tokens_per_step` tokens each that train at least `budget` tokens."""
    return -(-budget // tokens_per_step)
