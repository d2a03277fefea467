"""Protocol-buffer wire format: just enough to read and write Caffe files.

A `.caffemodel` is one serialised `caffe.NetParameter`. Decoding it with a
generated protobuf class would need the `.proto` compiled and would hold
the whole file (about 1 GB for DeconvNet) in memory twice. Instead the
reader walks the wire format directly from the open file: small messages
(layer names, parameters) are read into memory, weight arrays are only
located (file offset and length) and read later, one at a time.

Wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit.
"""


VARINT = 0
FIXED64 = 1
LENGTH_DELIMITED = 2
FIXED32 = 5


class WireFormatError(ValueError):
    """The bytes are not a valid protocol-buffer message."""


def read_varint_from_file(file, path):
    """Reads one base-128 varint from `file`; `None` at a clean end."""
    result = 0
    shift = 0
    while True:
        byte = file.read(1)
        if not byte:
            if shift == 0:
                return None
            raise WireFormatError(
                f"'{path}' ends in the middle of a number at byte "
                f"{file.tell()}: the file is truncated."
            )
        value = byte[0]
        result |= (value & 0x7F) << shift
        if not value & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise WireFormatError(
                f"'{path}' has a malformed number at byte {file.tell()}: "
                "it is not a Caffe model file."
            )


def decode_varint(buffer, position):
    """Decodes a varint from `buffer` at `position`; returns (value, end)."""
    result = 0
    shift = 0
    while True:
        if position >= len(buffer):
            raise WireFormatError("message ends in the middle of a number")
        value = buffer[position]
        position += 1
        result |= (value & 0x7F) << shift
        if not value & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise WireFormatError("malformed varint")


def iterate_fields(buffer):
    """Yields `(field_number, wire_type, value)` for a message in memory.

    `value` is an int for varints, `bytes` for fixed and length-delimited
    fields.
    """
    position = 0
    end = len(buffer)
    while position < end:
        key, position = decode_varint(buffer, position)
        field_number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            value, position = decode_varint(buffer, position)
        elif wire_type == LENGTH_DELIMITED:
            length, position = decode_varint(buffer, position)
            if position + length > end:
                raise WireFormatError(
                    f"field {field_number} claims {length} bytes but the "
                    f"message has only {end - position} left"
                )
            value = bytes(buffer[position : position + length])
            position += length
        elif wire_type == FIXED32:
            value = bytes(buffer[position : position + 4])
            position += 4
        elif wire_type == FIXED64:
            value = bytes(buffer[position : position + 8])
            position += 8
        else:
            raise WireFormatError(
                f"unsupported wire type {wire_type} for field {field_number}"
            )
        if position > end:
            raise WireFormatError("message ends inside a field")
        yield field_number, wire_type, value


def decode_packed_varints(value, wire_type):
    """Returns the ints of a repeated varint field (packed or not)."""
    if wire_type == VARINT:
        return [value]
    values = []
    position = 0
    while position < len(value):
        item, position = decode_varint(value, position)
        values.append(item)
    return values


def to_signed(value, bits=64):
    """Two's-complement reinterpretation of a varint (int32/int64 fields)."""
    if value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


# Writing.


def encode_varint(value):
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_key(field_number, wire_type):
    return encode_varint((field_number << 3) | wire_type)


def encode_varint_field(field_number, value):
    return encode_key(field_number, VARINT) + encode_varint(int(value))


def encode_bytes_field(field_number, payload):
    """A length-delimited field (string, bytes or sub-message)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return (
        encode_key(field_number, LENGTH_DELIMITED)
        + encode_varint(len(payload))
        + payload
    )


def length_delimited_header(field_number, length):
    """The key and length that precede `length` bytes of a field."""
    return encode_key(field_number, LENGTH_DELIMITED) + encode_varint(length)
