"""The TF Serving client (against a loopback HTTP stub) and the server configs."""

import http.server
import json
import pathlib
import threading

import pytest

from serving import client

SERVING_DIR = pathlib.Path(__file__).resolve().parents[2] / "serving"


class _StubHandler(http.server.BaseHTTPRequestHandler):
  """Answers `:predict` like TF Serving's REST API; records the requests."""

  requests = []

  def do_POST(self):  # pylint: disable=invalid-name
    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
    _StubHandler.requests.append((self.path, body))
    if "missing" in self.path:
      self._reply(404, {"error": "Servable not found for request: Latest(missing)"})
      return
    if "text" not in body["instances"][0] and "text_a" not in body["instances"][0]:
      self._reply(400, {"error": "Missing 'text' input"})
      return
    predictions = []
    for instance in body["instances"]:
      positive = "good" in instance.get("text", instance.get("text_a", ""))
      predictions.append({
          "logits": [-1.0, 1.0] if positive else [1.0, -1.0],
          "probabilities": [0.12, 0.88] if positive else [0.88, 0.12],
          "label": int(positive),
          "label_name": "positive" if positive else "negative",
      })
    self._reply(200, {"predictions": predictions})

  def _reply(self, code, payload):
    data = json.dumps(payload).encode()
    self.send_response(code)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def log_message(self, *args):  # Keep test output quiet.
    pass


@pytest.fixture
def stub_server():
  server = http.server.HTTPServer(("127.0.0.1", 0), _StubHandler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  _StubHandler.requests = []
  yield server.server_address[1]
  server.shutdown()
  server.server_close()
  thread.join()


def test_rest_request_format():
  assert client.build_rest_request(["great"]) == {
      "signature_name": "serving_default", "instances": [{"text": "great"}]}
  assert client.build_rest_request([("a", "b")], text_pair=True)["instances"] == [
      {"text_a": "a", "text_b": "b"}]
  assert (client.rest_url("h", 1, "sst2", 3) ==
          "http://h:1/v1/models/sst2/versions/3:predict")
  with pytest.raises(ValueError, match="pairs"):
    client.build_rest_request(["a"], text_pair=True)
  with pytest.raises(ValueError, match="No texts"):
    client.build_rest_request([])


def test_rest_round_trip(stub_server, capsys):
  code = client.main(["--model-name", "sst2", "--rest-port", str(stub_server),
                      "--host", "127.0.0.1", "a good film", "a bad film"])
  assert code == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines == ["positive (0.880)\ta good film", "negative (0.880)\ta bad film"]
  path, body = _StubHandler.requests[-1]
  assert path == "/v1/models/sst2:predict"
  assert body["instances"] == [{"text": "a good film"}, {"text": "a bad film"}]


def test_rest_pairs_and_json_output(stub_server, capsys, tmp_path):
  pairs = tmp_path / "pairs.tsv"
  pairs.write_text("good one\tanother\nx\ty\n", encoding="utf-8")
  code = client.main(["--model-name", "mrpc", "--text-pair", "--json",
                      "--rest-port", str(stub_server), "--host", "127.0.0.1",
                      "--input-file", str(pairs), "--version", "2"])
  assert code == 0
  rows = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
  assert [r["label"] for r in rows] == [1, 0]
  path, body = _StubHandler.requests[-1]
  assert path == "/v1/models/mrpc/versions/2:predict"
  assert body["instances"][1] == {"text_a": "x", "text_b": "y"}


def test_rest_errors_are_reported(stub_server, capsys):
  url = client.rest_url("127.0.0.1", stub_server, "missing")
  with pytest.raises(client.ServingError, match="HTTP 404: Servable not found"):
    client.predict_rest(url, client.build_rest_request(["x"]))
  with pytest.raises(client.ServingError, match="HTTP 400: Missing 'text'"):
    client.predict_rest(client.rest_url("127.0.0.1", stub_server, "sst2"),
                        {"instances": [{"sentence": "x"}]})
  code = client.main(["--model-name", "sst2", "--host", "127.0.0.1",
                      "--rest-port", "1", "--timeout", "2", "hello"])
  assert code == 1
  assert "Cannot reach TF Serving" in capsys.readouterr().err


def test_dry_run_prints_requests(capsys):
  assert client.main(["--model-name", "sst2", "--dry-run", "great"]) == 0
  out = capsys.readouterr().out
  assert out.startswith("POST http://localhost:8501/v1/models/sst2:predict\n")
  assert json.loads(out.split("\n", 1)[1])["instances"] == [{"text": "great"}]
  assert client.main(["--model-name", "mrpc", "--protocol", "grpc",
                      "--text-pair", "--dry-run", "a", "b"]) == 0
  out = capsys.readouterr().out
  assert "PredictionService/Predict localhost:8500" in out
  assert 'name: "mrpc"' in out and 'key: "text_a"' in out


def test_grpc_request_and_response_decoding():
  import tensorflow as tf
  request = client.build_grpc_request(["héllo", "x"], "sst2", version=4)
  assert request.model_spec.signature_name == "serving_default"
  assert request.model_spec.version.value == 4
  assert tf.make_ndarray(request.inputs["text"]).tolist() == [
      "héllo".encode(), b"x"]
  rows = client.rows_from_columns({"label": [1, 0],
                                   "label_name": [b"positive", b"negative"]})
  assert rows == [{"label": 1, "label_name": "positive"},
                  {"label": 0, "label_name": "negative"}]


def test_server_configs_parse():
  from google.protobuf import text_format
  from tensorflow_serving.config import model_server_config_pb2
  config = text_format.Parse(
      (SERVING_DIR / "models.config").read_text(),
      model_server_config_pb2.ModelServerConfig())
  names = [c.name for c in config.model_config_list.config]
  assert names == ["sst2", "mrpc"]
  assert all(c.base_path == f"/models/{c.name}"
             for c in config.model_config_list.config)
  # BatchingParameters (session_bundle_config.proto) is not in the pip
  # package: check the field names and the allowed sizes instead.
  fields = {"max_batch_size", "batch_timeout_micros", "num_batch_threads",
            "max_enqueued_batches", "pad_variable_length_inputs",
            "allowed_batch_sizes"}
  allowed = []
  for line in (SERVING_DIR / "batching_parameters.txt").read_text().splitlines():
    line = line.split("#")[0].strip()
    if line:
      name = line.split()[0].rstrip(":")
      assert name in fields, line
      if name == "allowed_batch_sizes":
        allowed.append(int(line.split(":")[1]))
  assert allowed == sorted(allowed) and allowed[-1] == 32  # == max_batch_size
