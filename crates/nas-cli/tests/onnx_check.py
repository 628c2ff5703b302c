"""Checks an exported model.onnx against the logits `nas predict --json` printed.

Usage: onnx_check.py MODEL_DIR PREDICTIONS_JSONL

Each line of PREDICTIONS_JSONL names an image and burn's logits for it. The image is read
with Pillow and prepared as MODEL_DIR/arch.json says (grey or RGB, resize, scale, mean/std,
NCHW), run through onnxruntime, and the logits compared. Prints the largest difference;
exits 1 when any logit differs by more than 1e-3 (absolute) or the predicted class differs.
Exits 3 when onnxruntime, numpy or Pillow is missing, so a caller can tell "cannot check"
from "checked and wrong".
"""
import json
import sys

try:
    import numpy as np
    import onnxruntime as ort
    from PIL import Image
except ImportError as e:  # pragma: no cover - the caller decides whether this is fatal
    print(f"missing python package: {e}", file=sys.stderr)
    sys.exit(3)

TOLERANCE = 1e-3


def prepare(path, p):
    mode = "L" if p["channel_order"] == "grey" else "RGB"
    image = Image.open(path).convert(mode)
    if image.size != (p["width"], p["height"]):
        image = image.resize((p["width"], p["height"]), Image.BILINEAR)
    x = np.asarray(image, dtype=np.float32) * np.float32(p["scale"])
    x = x.reshape(p["height"], p["width"], -1).transpose(2, 0, 1)  # HWC -> CHW
    mean = np.asarray(p["mean"], dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(p["std"], dtype=np.float32).reshape(-1, 1, 1)
    return (x - mean) / std


def main(model_dir, predictions):
    with open(f"{model_dir}/arch.json") as f:
        p = json.load(f)["preprocessing"]
    rows = [json.loads(line) for line in open(predictions) if line.strip()]
    batch = np.stack([prepare(r["image"], p) for r in rows]).astype(np.float32)
    session = ort.InferenceSession(f"{model_dir}/model.onnx", providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(["logits"], {"input": batch})
    burn_logits = np.asarray([r["logits"] for r in rows], dtype=np.float32)
    diff = float(np.abs(onnx_logits - burn_logits).max())
    same_class = bool((onnx_logits.argmax(1) == burn_logits.argmax(1)).all())
    print(f"images {len(rows)} max_abs_diff {diff:.3g} same_class {same_class} "
          f"onnxruntime {ort.__version__}")
    return 0 if diff <= TOLERANCE and same_class else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
