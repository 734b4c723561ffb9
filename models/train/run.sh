#!/usr/bin/env bash
# `npm run model:train`: the whole recipe, seeded, from ../shared/datasets to models/chatpulse-mini/.
# Extra arguments go to train.py (e.g. --mlm-epochs 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! /usr/bin/python3 -c 'import torch, onnx, numpy, sklearn' 2>/dev/null; then
  echo "model:train needs Debian's PyTorch and ONNX for /usr/bin/python3:" >&2
  echo "  apt-get install -y python3-torch python3-onnx python3-numpy python3-sklearn" >&2
  exit 1
fi
[ -d ../shared/datasets ] || { echo "model:train reads ../shared/datasets (not found beside the checkout)" >&2; exit 1; }
npm run build
mkdir -p models/train/.work && date +%s > models/train/.work/started_at
node dist/models/train/prepare.js
/usr/bin/python3 models/train/baseline.py
/usr/bin/python3 models/train/train.py "$@"
/usr/bin/python3 models/train/quantize.py
node dist/models/train/evaluate.js
node dist/models/train/card.js
