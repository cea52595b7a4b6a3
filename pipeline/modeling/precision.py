"""Which arithmetic the from-scratch CNNs train in.

On CPUs with native bfloat16 instructions (AVX512-BF16 or AMX), Keras'
`mixed_bfloat16` policy trains them faster: the weights stay float32 and only
the layer arithmetic is bfloat16. Elsewhere bfloat16 is emulated and slower, so
`auto` means float32 there. Whatever they trained in, the saved models compute
in float32, so evaluation, the dashboard and every other host give the same
answer for the same weights.
"""

from __future__ import annotations

from pipeline.config import PRECISIONS

BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def resolve(setting: str, cpu_flags: list[str], gpus: int = 0) -> str:
    """The precision `setting` means on this host: `auto` becomes `mixed_bfloat16` on a CPU
    with native bfloat16 and no GPU (GPUs keep float32: not measured here), else `float32`."""
    if setting not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (got {setting!r})")
    if setting != "auto":
        return setting
    native = any(flag in cpu_flags for flag in BF16_FLAGS)
    return "mixed_bfloat16" if native and not gpus else "float32"
