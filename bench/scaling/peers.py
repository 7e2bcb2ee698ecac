"""Thread scaling of PyTorch and ONNX Runtime (Python packages) on the encoder of
../shared/baselines/torch/bench_torch.py (post-LN relu nn.TransformerEncoder, same init).
Usage: peers.py THREADS_CSV; prints CSV (engine,model,batch,seq,threads,ms_median,ms_min,ms_max)."""
import sys, time, os, json
import torch, torch.nn as nn
CONFIGS = {"bert": (768, 12, 3072, 12), "minilm": (384, 12, 1536, 6)}
def build(name):
    d, h, f, L = CONFIGS[name]
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d, h, f, dropout=0.1, activation="relu", batch_first=True, norm_first=False)
    model = nn.TransformerEncoder(layer, L)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" not in n:
                p.normal_(0.0, 0.02) if p.dim() > 1 else p.uniform_(-0.02, 0.02)
    return model.eval()
def med(fn, reps):
    for _ in range(3): fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    ts.sort(); return ts[len(ts)//2]*1e3, ts[0]*1e3, ts[-1]*1e3
threads = [int(t) for t in sys.argv[1].split(",")]
shapes = [("bert", 1, 128, 15), ("bert", 8, 128, 4), ("minilm", 1, 128, 40)]
print("engine,model,batch,seq,threads,ms_median,ms_min,ms_max", flush=True)
for name in ["bert", "minilm"]:
    model = build(name); d = CONFIGS[name][0]
    for (m, B, S, reps) in shapes:
        if m != name: continue
        x = torch.randn(B, S, d)
        sess_path = f"/tmp/{name}_{B}x{S}.onnx"
        ort_ok = False
        try:
            import onnxruntime as ort
            torch.onnx.export(model, (x,), sess_path, input_names=["x"], output_names=["y"], opset_version=17, dynamo=False)
            ort_ok = True
        except Exception as e:
            print(f"# ort export failed: {e!r}"[:300], flush=True)
        for t in threads:
            torch.set_num_threads(t)
            def fn():
                with torch.inference_mode(): model(x)
            r = med(fn, reps)
            print(f"torch-{torch.__version__},{m},{B},{S},{t},{r[0]:.3f},{r[1]:.3f},{r[2]:.3f}", flush=True)
            if ort_ok:
                so = ort.SessionOptions(); so.intra_op_num_threads = t; so.inter_op_num_threads = 1
                s = ort.InferenceSession(sess_path, so, providers=["CPUExecutionProvider"])
                xn = x.numpy()
                r = med(lambda: s.run(None, {"x": xn}), reps)
                print(f"onnxruntime-{ort.__version__},{m},{B},{S},{t},{r[0]:.3f},{r[1]:.3f},{r[2]:.3f}", flush=True)
