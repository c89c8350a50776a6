"""Reads and writes the few fields of SentencePiece's `ModelProto` the export needs.

Hand-rolled protobuf wire format (sentencepiece_model.proto), so that export
does not depend on the `sentencepiece` package: tensorflow-text's tokenizers
take the serialized model, and the model is rebuilt from Hugging Face's
`tokenizer.json` so that its ids are the fast tokenizer's.
"""

import struct

# SentencePiece.Type
NORMAL = 1
UNKNOWN = 2
CONTROL = 3
USER_DEFINED = 4
# TrainerSpec.ModelType
UNIGRAM = 1


def _varint(value):
  value &= (1 << 64) - 1  # Negative int32s are 10-byte two's complement.
  out = bytearray()
  while True:
    byte = value & 0x7F
    value >>= 7
    if value:
      out.append(byte | 0x80)
    else:
      out.append(byte)
      return bytes(out)


def _key(field, wire_type):
  return _varint((field << 3) | wire_type)


def _int_field(field, value):
  return _key(field, 0) + _varint(value)


def _bytes_field(field, value):
  if isinstance(value, str):
    value = value.encode("utf-8")
  return _key(field, 2) + _varint(len(value)) + value


def _float_field(field, value):
  return _key(field, 5) + struct.pack("<f", value)


def build_unigram_model(pieces, unk_id, precompiled_charsmap,
                        add_dummy_prefix=True):
  """A serialized unigram `ModelProto` whose piece ids are the list indices.

  Args:
    pieces: list of `(piece, score, type)`, type one of NORMAL, UNKNOWN,
      CONTROL, USER_DEFINED.
    unk_id: int. Index of the unknown piece.
    precompiled_charsmap: bytes. The normalization map (Hugging Face's
      `Precompiled` normalizer holds the same bytes).
    add_dummy_prefix: bool. Prepend "▁" to the text (Hugging Face's
      `Metaspace` with `prepend_scheme="always"`).

  Returns:
    bytes.
  """
  out = bytearray()
  for piece, score, kind in pieces:
    out += _bytes_field(1, _bytes_field(1, piece) + _float_field(2, score) +
                        _int_field(3, kind))
  trainer = (_int_field(3, UNIGRAM) + _int_field(4, len(pieces)) +
             _int_field(40, unk_id) + _int_field(41, -1) +
             _int_field(42, -1) + _int_field(43, -1))
  out += _bytes_field(2, trainer)
  normalizer = (_bytes_field(1, "theseus_tf") +
                _bytes_field(2, precompiled_charsmap) +
                _int_field(3, int(add_dummy_prefix)) + _int_field(4, 1) +
                _int_field(5, 1))
  out += _bytes_field(3, normalizer)
  return bytes(out)


def _fields(data):
  """Yields `(field, wire_type, value)` of a serialized message."""
  i = 0
  while i < len(data):
    key, i = _read_varint(data, i)
    field, wire_type = key >> 3, key & 7
    if wire_type == 0:
      value, i = _read_varint(data, i)
    elif wire_type == 1:
      value, i = data[i:i + 8], i + 8
    elif wire_type == 2:
      length, i = _read_varint(data, i)
      value, i = data[i:i + length], i + length
    elif wire_type == 5:
      value, i = data[i:i + 4], i + 4
    else:
      raise ValueError(f"Unsupported protobuf wire type {wire_type}.")
    yield field, wire_type, value


def _read_varint(data, i):
  value = shift = 0
  while True:
    byte = data[i]
    i += 1
    value |= (byte & 0x7F) << shift
    shift += 7
    if not byte & 0x80:
      return value, i


def read_model(data):
  """Parses a serialized `ModelProto`.

  Returns:
    A dict with `pieces` (list of `(piece, score, type)`), `model_type`,
    `precompiled_charsmap` and `add_dummy_prefix`.
  """
  result = {"pieces": [], "model_type": UNIGRAM, "precompiled_charsmap": b"",
            "add_dummy_prefix": True}
  for field, _, value in _fields(data):
    if field == 1:
      piece, score, kind = "", 0.0, NORMAL
      for f, _, v in _fields(value):
        if f == 1:
          piece = v.decode("utf-8")
        elif f == 2:
          score = struct.unpack("<f", v)[0]
        elif f == 3:
          kind = v
      result["pieces"].append((piece, score, kind))
    elif field == 2:
      for f, _, v in _fields(value):
        if f == 3:
          result["model_type"] = v
    elif field == 3:
      for f, _, v in _fields(value):
        if f == 2:
          result["precompiled_charsmap"] = bytes(v)
        elif f == 3:
          result["add_dummy_prefix"] = bool(v)
  return result
