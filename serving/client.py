#!/usr/bin/env python
"""Client for a theseus_tf model served by TF Serving (REST or gRPC).

Sends raw text to the `serving_default` signature, which tokenizes in the
model, and prints one prediction per text.

Examples:

```bash
python serving/client.py --model-name sst2 "a gripping thriller" "dull"
python serving/client.py --model-name mrpc --text-pair \
    "He said hi." "He greeted us."            # text_a, text_b, text_a, ...
python serving/client.py --model-name sst2 --protocol grpc "great"
python serving/client.py --model-name sst2 --dry-run "great"   # print only
```

REST needs only the standard library; gRPC needs `tensorflow-serving-api`
(and TensorFlow, which it depends on).
"""

import argparse
import json
import sys
import urllib.error
import urllib.request

DEFAULT_SIGNATURE = "serving_default"


class ServingError(RuntimeError):
  """TF Serving could not be reached or refused the request."""


def build_rest_request(texts, text_pair=False, signature_name=None):
  """The JSON body of a REST `:predict` call, in the row ("instances") format.

  Args:
    texts: list of strings, or of `(text_a, text_b)` pairs with `text_pair`.
    text_pair: bool. The model takes sentence pairs.
    signature_name: optional signature (default: `serving_default`).

  Returns:
    A JSON-serializable dict.

  Example:

  ```python
  build_rest_request(["great movie"])
  # {"signature_name": "serving_default", "instances": [{"text": "great movie"}]}
  ```
  """
  if not texts:
    raise ValueError("No texts to send.")
  if text_pair:
    instances = [{"text_a": a, "text_b": b} for a, b in _pairs(texts)]
  else:
    instances = [{"text": _text(t)} for t in texts]
  return {"signature_name": signature_name or DEFAULT_SIGNATURE,
          "instances": instances}


def rest_url(host, port, model_name, version=None):
  """`http://host:port/v1/models/<name>[/versions/<v>]:predict`."""
  version_part = f"/versions/{int(version)}" if version is not None else ""
  return f"http://{host}:{port}/v1/models/{model_name}{version_part}:predict"


def predict_rest(url, request, timeout=10.0):
  """POSTs `request` to `url`; returns the list of per-text predictions.

  Raises:
    ServingError: connection failure, or an error response (the server's
      message is included).
  """
  body = json.dumps(request).encode("utf-8")
  http_request = urllib.request.Request(
      url, data=body, headers={"Content-Type": "application/json"},
      method="POST")
  try:
    with urllib.request.urlopen(http_request, timeout=timeout) as response:
      payload = response.read()
  except urllib.error.HTTPError as error:
    detail = error.read().decode("utf-8", "replace")
    try:
      detail = json.loads(detail).get("error", detail)
    except ValueError:
      pass
    raise ServingError(f"TF Serving answered HTTP {error.code}: {detail}") from None
  except (urllib.error.URLError, OSError) as error:
    reason = getattr(error, "reason", error)
    raise ServingError(
        f"Cannot reach TF Serving at {url}: {reason}. Is tensorflow_model_server "
        "running with --rest_api_port, and is the model name right?") from None
  try:
    predictions = json.loads(payload)["predictions"]
  except (ValueError, KeyError, TypeError):
    raise ServingError(
        f"Unexpected response from {url}: {payload[:200]!r}") from None
  return [p if isinstance(p, dict) else {"output": p} for p in predictions]


def build_grpc_request(texts, model_name, text_pair=False, signature_name=None,
                       version=None):
  """A `tensorflow_serving.apis.predict_pb2.PredictRequest` for `texts`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
  if not texts:
    raise ValueError("No texts to send.")
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model_name
  request.model_spec.signature_name = signature_name or DEFAULT_SIGNATURE
  if version is not None:
    request.model_spec.version.value = int(version)
  if text_pair:
    pairs = list(_pairs(texts))
    inputs = {"text_a": [a for a, _ in pairs], "text_b": [b for _, b in pairs]}
  else:
    inputs = {"text": [_text(t) for t in texts]}
  for name, values in inputs.items():
    request.inputs[name].CopyFrom(tf.make_tensor_proto(
        [v.encode("utf-8") for v in values], dtype=tf.string))
  return request


def predict_grpc(target, request, timeout=10.0):
  """Calls `Predict` on `target` ("host:port"); returns per-text predictions."""
  import grpc  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
  with grpc.insecure_channel(target) as channel:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    try:
      response = stub.Predict(request, timeout=timeout)
    except grpc.RpcError as error:
      raise ServingError(
          f"gRPC Predict on {target} failed: {error.code().name}: "
          f"{error.details()}") from None
  outputs = {name: tf.make_ndarray(proto).tolist()
             for name, proto in response.outputs.items()}
  return rows_from_columns(outputs)


def rows_from_columns(outputs):
  """`{name: [per-text values]}` -> `[{name: value}, ...]`, bytes decoded."""
  size = min(len(v) for v in outputs.values()) if outputs else 0
  rows = []
  for i in range(size):
    row = {}
    for name, values in outputs.items():
      value = values[i]
      row[name] = value.decode("utf-8") if isinstance(value, bytes) else value
    rows.append(row)
  return rows


def format_prediction(text, prediction):
  """One human-readable line per prediction."""
  shown = " | ".join(text) if isinstance(text, (tuple, list)) else text
  if "score" in prediction:
    return f"{prediction['score']:.4f}\t{shown}"
  label = prediction.get("label_name", prediction.get("label"))
  probabilities = prediction.get("probabilities")
  confidence = ""
  if isinstance(probabilities, list) and isinstance(prediction.get("label"), int):
    confidence = f" ({probabilities[prediction['label']]:.3f})"
  return f"{label}{confidence}\t{shown}"


def _text(value):
  if not isinstance(value, str):
    raise TypeError(f"Texts must be strings, got {type(value).__name__}.")
  return value


def _pairs(texts):
  for item in texts:
    if not isinstance(item, (tuple, list)) or len(item) != 2:
      raise ValueError(
          f"Sentence-pair models need (text_a, text_b) pairs, got {item!r}.")
    yield _text(item[0]), _text(item[1])


def _parse_args(argv):
  parser = argparse.ArgumentParser(
      description="Send texts to a theseus_tf model served by TF Serving.")
  parser.add_argument("texts", nargs="*",
                      help="texts; with --text-pair: text_a text_b ...")
  parser.add_argument("--input-file",
                      help="one text per line (text_a<TAB>text_b with "
                      "--text-pair); '-' for stdin")
  parser.add_argument("--model-name", required=True)
  parser.add_argument("--version", type=int, default=None,
                      help="a specific model version (default: latest)")
  parser.add_argument("--signature", default=DEFAULT_SIGNATURE)
  parser.add_argument("--text-pair", action="store_true",
                      help="the model takes sentence pairs")
  parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
  parser.add_argument("--host", default="localhost")
  parser.add_argument("--rest-port", type=int, default=8501)
  parser.add_argument("--grpc-port", type=int, default=8500)
  parser.add_argument("--timeout", type=float, default=10.0, help="seconds")
  parser.add_argument("--dry-run", action="store_true",
                      help="print the request instead of sending it")
  parser.add_argument("--json", action="store_true",
                      help="print the raw predictions as JSON lines")
  return parser, parser.parse_args(argv)


def _read_texts(args, parser):
  texts = list(args.texts)
  if args.input_file:
    stream = (sys.stdin if args.input_file == "-"
              else open(args.input_file, encoding="utf-8"))
    with stream:
      texts += [line.rstrip("\n") for line in stream if line.strip()]
    if args.text_pair:
      texts = [tuple(line.split("\t", 1)) for line in texts]
      bad = [t for t in texts if len(t) != 2]
      if bad:
        parser.error(f"--text-pair lines need a tab between the sentences: "
                     f"{bad[0][0]!r}")
      return texts
  if not texts:
    parser.error("no texts: pass them as arguments or with --input-file")
  if args.text_pair:
    if len(texts) % 2:
      parser.error("--text-pair needs an even number of texts "
                   "(text_a text_b ...)")
    texts = list(zip(texts[0::2], texts[1::2]))
  return texts


def main(argv=None):
  parser, args = _parse_args(argv)
  texts = _read_texts(args, parser)
  try:
    if args.protocol == "rest":
      url = rest_url(args.host, args.rest_port, args.model_name, args.version)
      request = build_rest_request(texts, args.text_pair, args.signature)
      if args.dry_run:
        print(f"POST {url}")
        print(json.dumps(request, indent=2, ensure_ascii=False))
        return 0
      predictions = predict_rest(url, request, args.timeout)
    else:
      target = f"{args.host}:{args.grpc_port}"
      request = build_grpc_request(texts, args.model_name, args.text_pair,
                                   args.signature, args.version)
      if args.dry_run:
        print(f"gRPC tensorflow.serving.PredictionService/Predict {target}")
        print(request)
        return 0
      predictions = predict_grpc(target, request, args.timeout)
  except ServingError as error:
    print(f"error: {error}", file=sys.stderr)
    return 1
  for text, prediction in zip(texts, predictions):
    if args.json:
      print(json.dumps(prediction, ensure_ascii=False))
    else:
      print(format_prediction(text, prediction))
  return 0


if __name__ == "__main__":
  sys.exit(main())
