#!/usr/bin/env python3
"""Writes half-precision twins of the DCGAN PyTorch fixture, without PyTorch.

A `state_dict` saved from a model in `.half()` or `.bfloat16()` stores its float tensors as
`torch.HalfStorage` / `torch.BFloat16Storage`. This rewrites `tests/fixtures/torch/dcgan`'s
netG.pth and netD.pth that way: the pickle's storage class is renamed and every float storage's
bytes are converted (f16 by IEEE rounding, bf16 by rounding the top 16 bits of the f32).
Integer storages (`num_batches_tracked`) are copied unchanged.

    python3 scripts/make_half_fixture.py   # writes .../torch/dcgan-f16 and .../torch/dcgan-bf16
"""
import io
import os
import pickle
import struct
import zipfile

ROOT = os.path.join(os.path.dirname(__file__), "..", "crates", "murgan-models", "tests", "fixtures", "torch")


class Storage:
    def __init__(self, kind):
        self.kind = kind


class OrderedDict(dict):
    """Stands in for collections.OrderedDict (PyTorch sets `_metadata` on it)."""


class Reader(pickle.Unpickler):
    """Records which storage key holds which storage class."""

    def __init__(self, f):
        super().__init__(f)
        self.kinds = {}

    def find_class(self, module, name):
        if module == "torch" and name.endswith("Storage"):
            return name
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        return lambda *a, **k: None

    def persistent_load(self, pid):
        _, kind, key, _, _ = pid
        self.kinds[key] = kind
        return None


def f16(values):
    return struct.pack(f"<{len(values)}e", *values)


def bf16(values):
    out = bytearray()
    for v in values:
        bits = struct.unpack("<I", struct.pack("<f", v))[0]
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even
        out += struct.pack("<H", bits & 0xFFFF)
    return bytes(out)


def convert(src, dst, storage_name, encode):
    with zipfile.ZipFile(src) as z:
        names = z.namelist()
        pkl = next(n for n in names if n.endswith("data.pkl"))
        prefix = pkl[: -len("data.pkl")]
        raw = z.read(pkl)
        reader = Reader(io.BytesIO(raw))
        reader.load()
        new_pkl = raw.replace(b"ctorch\nFloatStorage\n", b"ctorch\n" + storage_name + b"\n")
        assert new_pkl != raw, f"{src}: no FloatStorage"
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as out:
            for n in names:
                data = z.read(n)
                if n == pkl:
                    data = new_pkl
                elif n.startswith(prefix + "data/"):
                    key = n[len(prefix + "data/"):]
                    if reader.kinds.get(key) == "FloatStorage":
                        count = len(data) // 4
                        data = encode(struct.unpack(f"<{count}f", data))
                out.writestr(n, data)


def main():
    for sub, name, encode in [("dcgan-f16", b"HalfStorage", f16), ("dcgan-bf16", b"BFloat16Storage", bf16)]:
        os.makedirs(os.path.join(ROOT, sub), exist_ok=True)
        for f in ["netG.pth", "netD.pth"]:
            convert(os.path.join(ROOT, "dcgan", f), os.path.join(ROOT, sub, f), name, encode)
        print("wrote", os.path.join(ROOT, sub))


if __name__ == "__main__":
    main()
