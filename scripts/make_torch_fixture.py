"""Writes the small PyTorch fixture that murgan's `import-torch` tests check against.

    python scripts/make_torch_fixture.py crates/murgan-models/tests/fixtures/torch

Two model families, both tiny (a few tens of KiB) so the fixture can live in the repository:

* `dcgan/netG.pth`, `dcgan/netD.pth`: the PyTorch DCGAN tutorial's networks (nn.Sequential `main`, keys
  `main.N.weight`, as `../shared/peer/anogan_torch.py export` writes them) at 32x32, nz = 8,
  ngf = ndf = 4.
* `alphagan/alpha_{E,G,D,C}.pth`: murgan's alpha-GAN networks
  mirrored in PyTorch (same layers, same attribute names), 32x32, nz = 8, width 4, code
  discriminator 2 x 16 hidden units.

BatchNorm statistics and affine parameters are randomised so the test exercises them, and every
network is in eval mode. Inputs and outputs are little-endian f32 arrays:

* `dcgan/`: `z.f32` [4, 8]; `g_of_z.f32` [4, 1, 32, 32] = netG(z); `d_of_g_of_z.f32` [4] = netD(G(z))
* `alphagan/`: `x.f32` [4, 1, 32, 32] (in [-1, 1]); `alpha_e_of_x.f32` [4, 8]; `alpha_g_of_e.f32`
  [4, 1, 32, 32]; `alpha_d_of_x.f32` [4]; `alpha_c_of_e.f32` [4]

Needs only torch (any 2.x). Deterministic for a given torch version (seed 0).
"""
import os
import sys

import torch
import torch.nn as nn

NZ, NGF, NDF, NC, SIZE, HIDDEN = 8, 4, 4, 1, 32, 16
STAGES = SIZE.bit_length() - 3  # 32 -> 3 stride-2 stages between 4x4 and 32x32


def tutorial_generator():
    layers, ch = [], NGF << (STAGES - 1)
    layers += [nn.ConvTranspose2d(NZ, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
    for _ in range(STAGES - 1):
        layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
        ch //= 2
    layers += [nn.ConvTranspose2d(ch, NC, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def tutorial_discriminator():
    layers, ch = [nn.Conv2d(NC, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)], NDF
    for _ in range(STAGES - 1):
        layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, inplace=True)]
        ch *= 2
    layers += [nn.Conv2d(ch, 1, 4, 1, 0, bias=False)]
    return nn.Sequential(*layers)


class Wrap(nn.Module):
    """The tutorial keeps its Sequential in an attribute called `main`."""

    def __init__(self, main):
        super().__init__()
        self.main = main

    def forward(self, x):
        return self.main(x)


# murgan's networks, attribute for attribute (crates/murgan-models/src/nets.rs).
class GenBlock(nn.Module):
    def __init__(self, cin, cout, stride, pad):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        ch = NGF << (STAGES - 1)
        blocks = [GenBlock(NZ, ch, 1, 0)]
        for _ in range(STAGES - 1):
            blocks.append(GenBlock(ch, ch // 2, 2, 1))
            ch //= 2
        self.blocks = nn.ModuleList(blocks)
        self.out = nn.ConvTranspose2d(ch, NC, 4, 2, 1, bias=False)

    def forward(self, z):
        x = z.view(z.shape[0], -1, 1, 1)
        for b in self.blocks:
            x = b(x)
        return torch.tanh(self.out(x))


class DownBlock(nn.Module):
    def __init__(self, cin, cout, norm):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 4, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout) if norm else None

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return nn.functional.leaky_relu(x, 0.2)


class Trunk(nn.Module):
    def __init__(self, width):
        super().__init__()
        blocks, ch = [DownBlock(NC, width, False)], width
        for _ in range(STAGES - 1):
            blocks.append(DownBlock(ch, ch * 2, True))
            ch *= 2
        self.blocks = nn.ModuleList(blocks)
        self.channels = ch

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = Trunk(NDF)
        self.out = nn.Conv2d(self.trunk.channels, 1, 4, 1, 0, bias=False)

    def forward(self, x):
        return self.out(self.trunk(x)).view(-1)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = Trunk(NDF)
        self.fc = nn.Linear(self.trunk.channels * 16, NZ)

    def forward(self, x):
        return self.fc(self.trunk(x).flatten(1))


class CodeDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(NZ, HIDDEN), nn.Linear(HIDDEN, HIDDEN)])
        self.out = nn.Linear(HIDDEN, 1)

    def forward(self, z):
        for layer in self.hidden:
            z = nn.functional.leaky_relu(layer(z), 0.2)
        return self.out(z).view(-1)


def randomise_batchnorm(*nets):
    with torch.no_grad():
        for net in nets:
            for m in net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
            net.eval()


def save_f32(t, path):
    t.detach().contiguous().numpy().astype("<f4").tofile(path)


def main(root):
    out = os.path.join(root, "dcgan")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    g, d = Wrap(tutorial_generator()), Wrap(tutorial_discriminator())
    # DCGAN's N(0, 0.02) init makes outputs nearly constant; wider weights give a real check.
    with torch.no_grad():
        for p in list(g.parameters()) + list(d.parameters()):
            if p.dim() == 4:
                p.normal_(0.0, 0.2)
    randomise_batchnorm(g, d)
    torch.save(g.state_dict(), os.path.join(out, "netG.pth"))
    torch.save(d.state_dict(), os.path.join(out, "netD.pth"))
    z = torch.randn(4, NZ)
    with torch.no_grad():
        y = g(z.view(4, NZ, 1, 1))
        logit = d(y).view(-1)
    save_f32(z, os.path.join(out, "z.f32"))
    save_f32(y, os.path.join(out, "g_of_z.f32"))
    save_f32(logit, os.path.join(out, "d_of_g_of_z.f32"))

    out = os.path.join(root, "alphagan")
    os.makedirs(out, exist_ok=True)
    e, ag, ad, c = Encoder(), Generator(), Discriminator(), CodeDiscriminator()
    with torch.no_grad():
        for net in (e, ag, ad):
            for p in net.parameters():
                if p.dim() == 4:
                    p.normal_(0.0, 0.2)
    randomise_batchnorm(e, ag, ad, c)
    for name, net in (("E", e), ("G", ag), ("D", ad), ("C", c)):
        torch.save(net.state_dict(), os.path.join(out, f"alpha_{name}.pth"))
    x = torch.rand(4, NC, SIZE, SIZE) * 2 - 1
    with torch.no_grad():
        code = e(x)
        save_f32(x, os.path.join(out, "x.f32"))
        save_f32(code, os.path.join(out, "alpha_e_of_x.f32"))
        save_f32(ag(code), os.path.join(out, "alpha_g_of_e.f32"))
        save_f32(ad(x), os.path.join(out, "alpha_d_of_x.f32"))
        save_f32(c(code), os.path.join(out, "alpha_c_of_e.f32"))
    for sub in ("dcgan", "alphagan"):
        for f in sorted(os.listdir(os.path.join(root, sub))):
            print(sub, f, os.path.getsize(os.path.join(root, sub, f)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crates/murgan-models/tests/fixtures/torch")
