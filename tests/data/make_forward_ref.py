# SPDX-License-Identifier: MIT
# make_forward_ref.py: writes forward_ref.bin, PyTorch's outputs (and gradients) for hant's operators on fixed inputs.
#
# test_forward_ref.c compares libhant's kernels against this file, so the C
# test needs no PyTorch. The file is committed; regenerate it only when the
# set of cases changes:
#
#     /usr/bin/python3 tests/data/make_forward_ref.py tests/data/forward_ref.bin
#
# (Debian's python3-torch; the pyenv python3 has no torch.) Inputs are rounded
# to float32, references are computed by PyTorch in float64 and stored as
# float32, so they are exact to float32 rounding.
#
# Format (little-endian): "HANTREF1" | u32 count | count records of
#   u16 name_len | name | u32 ndim | u32 dims[ndim] | f32 data[prod(dims)].
# Integer configurations and labels are stored as float32 tensors.
import struct
import sys

import torch
import torch.nn.functional as F

records = []


def put(name, t):
    t = torch.as_tensor(t).detach().to(torch.float32).contiguous()
    dims = list(t.shape) if t.dim() > 0 else [1]
    records.append((name, dims, t.reshape(-1).tolist()))


def f32(t):
    # Round to float32 so that the C side sees exactly the inputs PyTorch used.
    return t.to(torch.float32).double()


def randn(*shape, scale=1.0, shift=0.0):
    return f32(torch.randn(*shape, dtype=torch.float64) * scale + shift)


def grad_of(out, inputs, dy):
    """Gradients of sum(out * dy) w.r.t. inputs (the adjoint with output gradient dy)."""
    return torch.autograd.grad(out, inputs, grad_outputs=dy)


def conv_cases():
    # c_in, c_out, kh, kw, sh, sw, ph, pw, groups, n, h, w, bias
    cases = [
        (3, 4, 3, 3, 1, 1, 1, 1, 1, 2, 7, 9, 1),
        (4, 6, 3, 3, 2, 2, 1, 1, 2, 2, 9, 7, 1),
        (6, 9, 3, 3, 1, 1, 1, 1, 3, 1, 6, 5, 0),
        (6, 6, 3, 3, 1, 1, 1, 1, 6, 2, 7, 8, 1),  # depthwise
        (5, 5, 3, 3, 2, 2, 1, 1, 5, 2, 9, 7, 0),  # depthwise stride 2
        (3, 5, 5, 5, 2, 2, 2, 2, 1, 2, 9, 8, 1),
        (5, 7, 1, 1, 1, 1, 0, 0, 1, 3, 5, 6, 0),  # pointwise
        (4, 4, 3, 1, 2, 1, 1, 0, 1, 2, 9, 5, 1),  # 3x1, stride 2x1
        (3, 4, 1, 3, 1, 1, 0, 1, 1, 1, 5, 9, 1),  # 1x3
    ]
    for i, (ci, co, kh, kw, sh, sw, ph, pw, g, n, h, w, bias) in enumerate(cases):
        p = f"conv{i}."
        x = randn(n, ci, h, w).requires_grad_()
        wt = randn(co, ci // g, kh, kw, scale=0.5).requires_grad_()
        b = randn(co).requires_grad_() if bias else None
        y = F.conv2d(x, wt, b, stride=(sh, sw), padding=(ph, pw), groups=g)
        dy = randn(*y.shape)
        grads = grad_of(y, [x, wt] + ([b] if bias else []), dy)
        put(p + "cfg", [ci, co, kh, kw, sh, sw, ph, pw, g, n, h, w, bias])
        put(p + "x", x)
        put(p + "w", wt)
        if bias:
            put(p + "b", b)
            put(p + "db", grads[2])
        put(p + "y", y)
        put(p + "dy", dy)
        put(p + "dx", grads[0])
        put(p + "dw", grads[1])


def bn_cases():
    n, c, h, w = 3, 4, 5, 6
    put("bn.cfg", [n, c, h, w])
    x = randn(n, c, h, w, scale=2.0, shift=1.5).requires_grad_()
    gamma = randn(c, scale=0.3, shift=1.0).requires_grad_()
    beta = randn(c, scale=0.5).requires_grad_()
    rm = randn(c, scale=0.5)
    rv = f32(0.5 + torch.rand(c, dtype=torch.float64))
    put("bn.x", x)
    put("bn.gamma", gamma)
    put("bn.beta", beta)
    put("bn.running_mean", rm)
    put("bn.running_var", rv)
    y_eval = F.batch_norm(x, rm.clone(), rv.clone(), gamma, beta, training=False, eps=1e-5)
    put("bn.y_eval", y_eval)
    rm_t, rv_t = rm.clone(), rv.clone()
    y = F.batch_norm(x, rm_t, rv_t, gamma, beta, training=True, momentum=0.1, eps=1e-5)
    dy = randn(n, c, h, w)
    dx, dg, db = grad_of(y, [x, gamma, beta], dy)
    put("bn.y_train", y)
    put("bn.running_mean_after", rm_t)
    put("bn.running_var_after", rv_t)
    put("bn.dy", dy)
    put("bn.dx", dx)
    put("bn.dgamma", dg)
    put("bn.dbeta", db)


def act_cases():
    x = randn(257, scale=4.0)
    edges = torch.tensor([-6.0, -3.0, -2.9, -0.5, 0.0, 0.5, 2.9, 3.0, 5.9, 6.0, 6.1, 100.0], dtype=torch.float64)
    put("act.x", x)
    put("act.edges", edges)
    dy = randn(257)
    put("act.dy", dy)
    for name, fn in (("relu", F.relu), ("relu6", F.relu6), ("hswish", F.hardswish)):
        xr = x.clone().requires_grad_()
        y = fn(xr)
        put(f"act.{name}.y", y)
        put(f"act.{name}.dx", grad_of(y, [xr], dy)[0])
        put(f"act.{name}.edges_y", fn(edges))


def pool_cases():
    n, c, h, w = 2, 3, 9, 7
    x = randn(n, c, h, w)
    put("pool.x", x)
    put("pool.cfg", [n, c, h, w])
    variants = [
        ("maxpool", 3, 2, 1, 1),
        ("avgpool_pad1", 3, 2, 1, 1),
        ("avgpool_pad0", 3, 2, 1, 0),
        ("avgpool_k2", 2, 2, 0, 1),
    ]
    for name, k, s, p, incl in variants:
        xr = x.clone().requires_grad_()
        if name == "maxpool":
            y = F.max_pool2d(xr, k, s, p)
        else:
            y = F.avg_pool2d(xr, k, s, p, count_include_pad=bool(incl))
        dy = randn(*y.shape)
        put(f"{name}.cfg", [k, s, p, incl])
        put(f"{name}.y", y)
        put(f"{name}.dy", dy)
        put(f"{name}.dx", grad_of(y, [xr], dy)[0])
    xr = x.clone().requires_grad_()
    y = F.adaptive_avg_pool2d(xr, 1).reshape(n, c)
    dy = randn(n, c)
    put("gap.y", y)
    put("gap.dy", dy)
    put("gap.dx", grad_of(y, [xr], dy)[0])


def linear_cases():
    n, fin, fout = 4, 10, 6
    x = randn(n, fin).requires_grad_()
    wt = randn(fout, fin, scale=0.3).requires_grad_()
    b = randn(fout).requires_grad_()
    y = F.linear(x, wt, b)
    dy = randn(n, fout)
    dx, dw, db = grad_of(y, [x, wt, b], dy)
    put("linear.cfg", [n, fin, fout])
    for k, v in (("x", x), ("w", wt), ("b", b), ("y", y), ("dy", dy), ("dx", dx), ("dw", dw), ("db", db)):
        put("linear." + k, v)


def loss_cases():
    n, k = 5, 7
    z = randn(n, k, scale=3.0)
    labels = torch.randint(0, k, (n,))
    put("xent.cfg", [n, k])
    put("xent.logits", z)
    put("xent.labels", labels)
    for name, sm in (("xent", 0.0), ("xent_ls", 0.1)):
        zr = z.clone().requires_grad_()
        loss = F.cross_entropy(zr, labels, label_smoothing=sm)
        put(f"{name}.smoothing", [sm])
        put(f"{name}.loss", [loss.item()])
        put(f"{name}.dlogits", torch.autograd.grad(loss, [zr])[0])

    y = randn(3, 4, 5)
    t = randn(3, 4, 5)
    yr = y.clone().requires_grad_()
    loss = F.mse_loss(yr, t)
    put("mse.y", y)
    put("mse.t", t)
    put("mse.loss", [loss.item()])
    put("mse.dy", torch.autograd.grad(loss, [yr])[0])

    s = randn(n, k, scale=2.0)
    te = randn(n, k, scale=3.0)
    put("kd.cfg", [n, k])
    put("kd.student", s)
    put("kd.teacher", te)
    for i, temp in enumerate((1.0, 4.0)):
        sr = s.clone().requires_grad_()
        loss = F.kl_div(F.log_softmax(sr / temp, dim=1), F.softmax(te / temp, dim=1),
                        reduction="batchmean") * temp * temp
        put(f"kd{i}.temperature", [temp])
        put(f"kd{i}.loss", [loss.item()])
        put(f"kd{i}.dstudent", torch.autograd.grad(loss, [sr])[0])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "forward_ref.bin"
    torch.manual_seed(20240611)
    conv_cases()
    bn_cases()
    act_cases()
    pool_cases()
    linear_cases()
    loss_cases()
    with open(out, "wb") as f:
        f.write(b"HANTREF1")
        f.write(struct.pack("<I", len(records)))
        for name, dims, data in records:
            nb = name.encode()
            f.write(struct.pack("<H", len(nb)))
            f.write(nb)
            f.write(struct.pack("<I", len(dims)))
            f.write(struct.pack(f"<{len(dims)}I", *dims))
            f.write(struct.pack(f"<{len(data)}f", *data))
    print(f"{out}: {len(records)} tensors, torch {torch.__version__}")


if __name__ == "__main__":
    main()
