#!/usr/bin/python3
"""Step 3 of `npm run model:train`: int8 dynamic quantization of onnx/model.onnx, written by hand with
the onnx package (onnxruntime's Python quantizer is not installable here). MatMuls with constant weights
become DynamicQuantizeLinear + MatMulInteger (int8 weights, per-tensor scale; activations quantized at run
time); large Gather tables (token embeddings, the n-gram weight table) are stored as int8 with one scale
per row and dequantized after the gather. evaluate.ts keeps the result only if it is faster at no more
than 1 point of macro-recall.
"""
import argparse, os, sys

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as err:
    sys.exit(f"quantize needs Debian's python3-onnx and python3-numpy: {err}")


def quantize(src, dst, min_elements=4096):
    model = onnx.load(src)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    new_nodes, drop = [], set()
    for node in graph.node:
        w = inits.get(node.input[1]) if node.op_type in ("MatMul", "Gather") and len(node.input) > 1 else None
        if node.op_type == "Gather" and node.input[0] in inits:
            w = inits[node.input[0]]
        if w is None or w.data_type != TensorProto.FLOAT or np.prod(w.dims) < min_elements or len(w.dims) != 2:
            new_nodes.append(node)
            continue
        arr = numpy_helper.to_array(w)
        n = node.name or node.output[0]
        if node.op_type == "MatMul":
            scale = max(float(np.abs(arr).max()), 1e-8) / 127.0
            q = np.clip(np.round(arr / scale), -127, 127).astype(np.int8)
            graph.initializer.extend([numpy_helper.from_array(q, f"{n}_wq"), numpy_helper.from_array(np.array(scale, np.float32), f"{n}_ws"),
                                      numpy_helper.from_array(np.array(0, np.int8), f"{n}_wzp")])
            a = node.input[0]
            new_nodes += [
                helper.make_node("DynamicQuantizeLinear", [a], [f"{n}_aq", f"{n}_as", f"{n}_azp"]),
                helper.make_node("MatMulInteger", [f"{n}_aq", f"{n}_wq", f"{n}_azp", f"{n}_wzp"], [f"{n}_y32"]),
                helper.make_node("Cast", [f"{n}_y32"], [f"{n}_yf"], to=TensorProto.FLOAT),
                helper.make_node("Mul", [f"{n}_as", f"{n}_ws"], [f"{n}_s"]),
                helper.make_node("Mul", [f"{n}_yf", f"{n}_s"], [node.output[0]]),
            ]
        else:  # Gather from a table: int8 rows with per-row scales, gathered alongside
            scale = np.maximum(np.abs(arr).max(axis=1), 1e-8) / 127.0
            q = np.clip(np.round(arr / scale[:, None]), -127, 127).astype(np.int8)
            graph.initializer.extend([numpy_helper.from_array(q, f"{n}_tq"), numpy_helper.from_array(scale.astype(np.float32)[:, None], f"{n}_ts")])
            ids = node.input[1]
            new_nodes += [
                helper.make_node("Gather", [f"{n}_tq", ids], [f"{n}_gq"], axis=0),
                helper.make_node("Cast", [f"{n}_gq"], [f"{n}_gf"], to=TensorProto.FLOAT),
                helper.make_node("Gather", [f"{n}_ts", ids], [f"{n}_gs"], axis=0),
                helper.make_node("Mul", [f"{n}_gf", f"{n}_gs"], [node.output[0]]),
            ]
        drop.add(w.name)
    still_used = {i for node in new_nodes for i in node.input}
    keep = [i for i in graph.initializer if i.name not in drop or i.name in still_used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    del graph.node[:]
    graph.node.extend(new_nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    print(f"quantized {src} ({os.path.getsize(src) / 1e6:.1f} MB) -> {dst} ({os.path.getsize(dst) / 1e6:.1f} MB)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/chatpulse-mini")
    args = ap.parse_args()
    quantize(os.path.join(args.model, "onnx", "model.onnx"), os.path.join(args.model, "onnx", "model_quantized.onnx"))
