/**
 * The subset of the ONNX protobuf schema (onnx/onnx.proto, IR version 8) that Impasto writes,
 * declared as a protobufjs reflection root. Field numbers are the ones in onnx.proto; nothing
 * here is generated code or an embedded byte blob.
 *
 * Only the messages a computation graph needs are declared: ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto, TypeProto(.Tensor), TensorShapeProto and
 * OperatorSetIdProto. Unknown fields on decode are ignored by protobufjs.
 *
 * Used for decoding (the ONNX weight loader) and as the reference the hand-written encoder
 * (onnx-encode.ts, which Impasto's graphs are written with) is tested against: protobufjs builds
 * its coders with `new Function`, which a browser page's CSP forbids.
 */
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto2";
package onnx;
message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
                       FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10; }
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  optional AttributeType type = 20;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; optional string doc_string = 3; }
message NodeProto {
  repeated string input = 1; repeated string output = 2; optional string name = 3;
  optional string op_type = 4; optional string domain = 7; repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}
message ModelProto {
  optional int64 ir_version = 1; repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2; optional string producer_version = 3; optional string domain = 4;
  optional int64 model_version = 5; optional string doc_string = 6; optional GraphProto graph = 7;
}
message GraphProto {
  repeated NodeProto node = 1; optional string name = 2; repeated TensorProto initializer = 5;
  optional string doc_string = 10; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}
message TensorProto {
  repeated int64 dims = 1; optional int32 data_type = 2; repeated float float_data = 4 [packed = true];
  repeated int64 int64_data = 7 [packed = true]; optional string name = 8; optional bytes raw_data = 9;
  repeated double double_data = 10 [packed = true]; optional string doc_string = 12;
  repeated StringStringEntryProto external_data = 13; optional int32 data_location = 14;
}
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
}
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
`;

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;

/** protobufjs message type for onnx.ModelProto. */
export const ModelProto = root.lookupType('onnx.ModelProto');

export { AttributeType, TensorDataType } from './onnx-encode.js';
