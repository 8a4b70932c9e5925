"""PyTorch CPU peer of murgan's SQUID model, for side-by-side throughput (benches/side_by_side.sh).

The same network as murgan's `squid` at the `xray` preset's sizes, layer for layer: SQUID's
design (Xiang et al., CVPR 2023: a patch encoder, per-position memory queues read through their
top-k attention weights, an in-painting transformer layer over the eight neighbours' readouts,
a student and a teacher decoder with distillation, an image discriminator) in murgan's smaller
form (single-head attention, no encoder-decoder skips, no memory inside the decoder; see
crates/murgan-models/src/nets/squid.rs). Written for this comparison from that description; no
code of the authors' repository is used, and nothing is fetched at run time.

  python squid_torch.py squid-train --batch 32 --iterations 5   # one training step: step_s
  python squid_torch.py squid-score --batch 64 --iterations 10  # eval-mode scoring: img_per_s

Prints one JSON object on its last line. Threads default to 2.
"""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F

N, GRID, WIDTH, SLOTS, TOP_K = 64, 2, 16, 200, 5
PATCH = N // GRID
STAGES = int(math.log2(PATCH)) - 2          # 32 -> 4: 3 stride-2 stages
CH = WIDTH << (STAGES - 1)                  # encoder output channels (64)
RED = max(CH // 4, 1)                       # bottleneck channels (16)
DIM = RED * 16                              # memory vector length (256)
BITS = int(math.log2(GRID * GRID)) + 1      # position code bits (3)
WEIGHTS = dict(recon=10.0, teacher=0.01, distill=0.001, adversarial=0.005)


def down(cin, cout, norm):
    layers = [nn.Conv2d(cin, cout, 4, 2, 1, bias=False)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(0.2))
    return layers


def trunk(width, stages, norm):
    layers, ch = down(1, width, False), width
    for _ in range(1, stages):
        layers += down(ch, ch * 2, norm)
        ch *= 2
    return nn.Sequential(*layers)


def to_patches(x):
    b, c, h, w = x.shape
    ph, pw = h // GRID, w // GRID
    return x.reshape(b, c, GRID, ph, GRID, pw).permute(0, 2, 4, 1, 3, 5).reshape(b * GRID * GRID, c, ph, pw)


def from_patches(x):
    n, c, ph, pw = x.shape
    b = n // (GRID * GRID)
    return x.reshape(b, GRID, GRID, c, ph, pw).permute(0, 3, 1, 4, 2, 5).reshape(b, c, GRID * ph, GRID * pw)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        blocks, ch = [], CH
        for s in range(STAGES):
            last = s + 1 == STAGES
            out = 1 if last else max(ch // 2, 1)
            layers = [nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=False)]
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU()]
            blocks.append(nn.Sequential(*layers))
            ch = out
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x):
        hidden = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == 0:
                x = from_patches(x)
            if i + 1 < len(self.blocks):
                hidden.append(x)
        return x, hidden


def neighbour_index():
    index = []
    for r in range(GRID):
        for c in range(GRID):
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    if dr == 0 and dc == 0:
                        continue
                    rr, cc = r + dr, c + dc
                    index.append(rr * GRID + cc if 0 <= rr < GRID and 0 <= cc < GRID else GRID * GRID)
    return torch.tensor(index)


class InPaint(nn.Module):
    def __init__(self):
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(CH, RED, 1, bias=False), nn.BatchNorm2d(RED), nn.ReLU())
        self.register_buffer("memory", torch.zeros(GRID * GRID, SLOTS, DIM))
        self.query, self.key, self.value, self.out = (nn.Linear(DIM, DIM) for _ in range(4))
        self.norm1, self.norm2 = nn.LayerNorm(DIM), nn.LayerNorm(DIM)
        self.ff1, self.ff2 = nn.Linear(DIM, DIM // 4), nn.Linear(DIM // 4, DIM)
        self.expand = nn.Sequential(nn.Conv2d(RED + BITS, CH, 1, bias=False), nn.BatchNorm2d(CH), nn.ReLU())
        self.register_buffer("index", neighbour_index())
        code = [[float((i >> bit) & 1) for bit in reversed(range(BITS))] for i in range(GRID * GRID)]
        self.register_buffer("code", torch.tensor(code))

    def shrink(self, logits):
        y = torch.softmax(logits, 2)
        kept = y.detach()
        threshold = kept.topk(TOP_K, 2).values[..., -1:]
        cut = kept * (kept >= threshold).float()
        hard = cut / cut.sum(2, keepdim=True).clamp_min(1e-12)
        return y + (hard - kept).detach()

    def forward(self, x, batch):
        bn, _, h, w = x.shape
        n = bn // batch
        f = self.reduce(x).reshape(batch, n, DIM)
        queries = f.transpose(0, 1)
        memory = self.memory.detach()
        weights = self.shrink(queries @ memory.transpose(1, 2))
        m = (weights @ memory).transpose(0, 1)                       # [B, P², D]
        padded = torch.cat([m, m.new_zeros(batch, 1, DIM)], 1)
        nb = padded.index_select(1, self.index).reshape(bn, 8, DIM)
        q = self.query(f.reshape(bn, 1, DIM))
        a = torch.softmax(q @ self.key(nb).transpose(1, 2) / math.sqrt(DIM), 2)
        o = self.out(a @ self.value(nb))
        z = F.relu(self.norm1(o) + m.reshape(bn, 1, DIM))
        z = F.relu(self.norm2(self.ff2(F.relu(self.ff1(z)))) + z)
        z = z.reshape(bn, RED, h, w)
        pos = self.code.reshape(1, n, BITS, 1, 1).expand(batch, n, BITS, h, w).reshape(bn, BITS, h, w)
        return self.expand(torch.cat([z, pos], 1)), queries.detach()


class Squid(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = trunk(WIDTH, STAGES, True)
        self.inpaint = InPaint()
        self.student, self.teacher = Decoder(), Decoder()

    def forward(self, x):
        e = self.encoder(to_patches(x))
        z, _ = self.inpaint(e, x.shape[0])
        return self.student(z)[0]

    def forward_train(self, x):
        e = self.encoder(to_patches(x))
        z, queries = self.inpaint(e, x.shape[0])
        rec, s_hidden = self.student(z)
        teacher, t_hidden = self.teacher(e.detach())
        distill = sum(((s - t) ** 2).mean() for s, t in zip(s_hidden, t_hidden))
        return rec, teacher, distill, queries

    @torch.no_grad()
    def enqueue(self, queries):
        b = queries.shape[1]
        if b >= SLOTS:
            self.inpaint.memory.copy_(queries[:, b - SLOTS:])
        else:
            self.inpaint.memory.copy_(torch.cat([self.inpaint.memory[:, b:], queries], 1))


class Discriminator(nn.Module):
    """DCGAN discriminator as wide as the encoder, without BatchNorm (murgan's SQUID default)."""
    def __init__(self):
        super().__init__()
        stages = int(math.log2(N)) - 2
        self.trunk = trunk(WIDTH, stages, False)
        self.out = nn.Conv2d(WIDTH << (stages - 1), 1, 4, 1, 0, bias=False)

    def forward(self, x):
        return self.out(self.trunk(x)).view(-1)


def images(batch):
    return torch.rand(batch, 1, N, N) * 2 - 1


def train(a):
    ae, d = Squid(), Discriminator()
    og = torch.optim.Adam(ae.parameters(), lr=2e-4, betas=(0.5, 0.999))
    od = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    x = images(a.batch)
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(a.batch), torch.zeros(a.batch)

    def step():
        rec, teacher, distill, queries = ae.forward_train(x)
        od.zero_grad()
        ld = bce(d(x), ones) + bce(d(rec.detach()), zeros)
        ld.backward(); od.step()
        og.zero_grad()
        for p in d.parameters():          # D as a constant in the auto-encoder's update
            p.requires_grad_(False)
        lg = (WEIGHTS["recon"] * ((rec - x) ** 2).mean() + WEIGHTS["teacher"] * ((teacher - x) ** 2).mean()
              + WEIGHTS["distill"] * distill + WEIGHTS["adversarial"] * bce(d(rec), ones))
        lg.backward(); og.step()
        for p in d.parameters():
            p.requires_grad_(True)
        ae.enqueue(queries)
        return ld.item() + lg.item()
    for _ in range(a.warmup): step()
    t0 = time.perf_counter()
    for _ in range(a.iterations): step()
    dt = time.perf_counter() - t0
    return {"step_s": dt / a.iterations, "img_per_s": a.batch * a.iterations / dt}


def score(a):
    ae, d = Squid().eval(), Discriminator().eval()
    x = images(a.batch)

    @torch.no_grad()
    def once():
        xh = ae(x)
        residual = ((x - xh) ** 2).flatten(1).mean(1)                          # murgan's `residual`
        coarse = ((F.avg_pool2d(x, N // 8) - F.avg_pool2d(xh, N // 8)) ** 2).flatten(1).mean(1)
        return residual, coarse, -d(xh), -d(x)
    for _ in range(a.warmup): once()
    t0 = time.perf_counter()
    for _ in range(a.iterations): once()
    dt = time.perf_counter() - t0
    return {"img_per_s": a.batch * a.iterations / dt}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["squid-train", "squid-score"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = train(a) if a.mode == "squid-train" else score(a)
    print(json.dumps({"impl": f"pytorch {torch.__version__}", "mode": a.mode, "batch": a.batch,
                      "threads": a.threads, **out}))
