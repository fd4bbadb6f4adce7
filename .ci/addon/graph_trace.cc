// See graph_trace.h. Written against TensorFlow 2.21's C API and Node-API 8.
#include "graph_trace.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

namespace graph_trace {
namespace {

// FNV-1a, 64 bits: a structure or a constant's bytes in one number.
void Mix(uint64_t *h, const void *data, size_t n) {
  const unsigned char *p = static_cast<const unsigned char *>(data);
  if (*h == 0) *h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    *h ^= p[i];
    *h *= 1099511628211ULL;
  }
}
void MixString(uint64_t *h, const std::string &s) {
  Mix(h, s.data(), s.size());
  Mix(h, "\0", 1);
}
void MixInt(uint64_t *h, int64_t v) { Mix(h, &v, sizeof v); }

std::string Hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// The input arguments of an op: which of them are lists. Parsed from the serialized OpDef
// (field 2: repeated ArgDef; ArgDef field 1: name, 5: number_attr, 6: type_list_attr).
struct Arg {
  std::string name;
  bool list;
};

bool Varint(const unsigned char *&p, const unsigned char *end, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    unsigned char b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

// Calls fn(field, bytes, length) for each length-delimited field; skips the others.
template <typename Fn>
bool Fields(const unsigned char *p, const unsigned char *end, Fn fn) {
  while (p < end) {
    uint64_t key, len;
    if (!Varint(p, end, &key)) return false;
    switch (key & 7) {
      case 0:
        if (!Varint(p, end, &len)) return false;
        break;
      case 1:
        p += 8;
        break;
      case 5:
        p += 4;
        break;
      case 2:
        if (!Varint(p, end, &len) || len > static_cast<uint64_t>(end - p)) return false;
        fn(static_cast<int>(key >> 3), p, static_cast<size_t>(len));
        p += len;
        break;
      default:
        return false;
    }
  }
  return p == end;
}

bool InputArgs(TF_Graph *graph, const std::string &op_name, std::vector<Arg> *args,
               std::string *error) {
  // One cache for the process: gradient workers are threads, each with its own addon instance,
  // and they trace at the same time. Unguarded, a lookup during another thread's insert read a
  // rehashing table (a worker that hung or failed, about one run in twelve).
  static std::mutex mutex;
  static std::unordered_map<std::string, std::vector<Arg>> cache;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto hit = cache.find(op_name);
    if (hit != cache.end()) {
      *args = hit->second;
      return true;
    }
  }
  TF_Status *status = TF_NewStatus();
  TF_Buffer *buffer = TF_NewBuffer();
  TF_GraphGetOpDef(graph, op_name.c_str(), buffer, status);
  bool ok = TF_GetCode(status) == TF_OK;
  if (!ok) *error = std::string("no OpDef for ") + op_name + ": " + TF_Message(status);
  std::vector<Arg> found;
  if (ok) {
    const unsigned char *p = static_cast<const unsigned char *>(buffer->data);
    ok = Fields(p, p + buffer->length, [&](int field, const unsigned char *q, size_t n) {
      if (field != 2) return;
      Arg arg{"", false};
      Fields(q, q + n, [&](int f, const unsigned char *r, size_t m) {
        if (f == 1) arg.name.assign(reinterpret_cast<const char *>(r), m);
        if ((f == 5 || f == 6) && m > 0) arg.list = true;
      });
      found.push_back(arg);
    });
    if (!ok) *error = std::string("could not read the OpDef of ") + op_name;
  }
  TF_DeleteBuffer(buffer);
  TF_DeleteStatus(status);
  if (ok) {
    std::lock_guard<std::mutex> lock(mutex);
    *args = cache[op_name] = found;
  }
  return ok;
}

bool GetString(napi_env env, napi_value v, std::string *out) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &n) != napi_ok) return false;
  std::unique_ptr<char[]> buf(new char[n + 1]);
  if (napi_get_value_string_utf8(env, v, buf.get(), n + 1, &n) != napi_ok) return false;
  out->assign(buf.get(), n);
  return true;
}

bool GetInts(napi_env env, napi_value array, std::vector<int32_t> *out) {
  uint32_t n;
  if (napi_get_array_length(env, array, &n) != napi_ok) return false;
  out->resize(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, array, i, &e) != napi_ok) return false;
    if (napi_get_value_int32(env, e, &(*out)[i]) != napi_ok) return false;
  }
  return true;
}

bool IsArray(napi_env env, napi_value v) {
  bool is = false;
  napi_is_array(env, v, &is);
  return is;
}

// Sets one attribute as tfjs-node's AssignOpAttr sets it on an eager op ({name, type, value}),
// on a graph op instead, and mixes it into the structure hash.
bool SetAttr(napi_env env, TF_OperationDescription *desc, napi_value attr, uint64_t *hash,
             std::string *error) {
  napi_value name_v, type_v, value;
  std::string name;
  int32_t type;
  if (napi_get_named_property(env, attr, "name", &name_v) != napi_ok ||
      !GetString(env, name_v, &name) ||
      napi_get_named_property(env, attr, "type", &type_v) != napi_ok ||
      napi_get_value_int32(env, type_v, &type) != napi_ok ||
      napi_get_named_property(env, attr, "value", &value) != napi_ok) {
    *error = "an op attribute is not {name, type, value}";
    return false;
  }
  MixString(hash, name);
  MixInt(hash, type);
  const bool list = IsArray(env, value);
  uint32_t n = 1;
  if (list) napi_get_array_length(env, value, &n);
  auto element = [&](uint32_t i) {
    napi_value e = value;
    if (list) napi_get_element(env, value, i, &e);
    return e;
  };
  switch (static_cast<TF_AttrType>(type)) {
    case TF_ATTR_STRING: {
      std::string s;
      if (!GetString(env, value, &s)) break;
      MixString(hash, s);
      TF_SetAttrString(desc, name.c_str(), s.data(), s.size());
      return true;
    }
    case TF_ATTR_INT: {
      std::vector<int64_t> v(n);
      for (uint32_t i = 0; i < n; i++) napi_get_value_int64(env, element(i), &v[i]);
      Mix(hash, v.data(), v.size() * sizeof(int64_t));
      if (list) {
        TF_SetAttrIntList(desc, name.c_str(), v.data(), static_cast<int>(n));
      } else {
        TF_SetAttrInt(desc, name.c_str(), v[0]);
      }
      return true;
    }
    case TF_ATTR_FLOAT: {
      std::vector<float> v(n);
      for (uint32_t i = 0; i < n; i++) {
        double d = 0;
        napi_get_value_double(env, element(i), &d);
        v[i] = static_cast<float>(d);
      }
      Mix(hash, v.data(), v.size() * sizeof(float));
      if (list) {
        TF_SetAttrFloatList(desc, name.c_str(), v.data(), static_cast<int>(n));
      } else {
        TF_SetAttrFloat(desc, name.c_str(), v[0]);
      }
      return true;
    }
    case TF_ATTR_BOOL: {
      std::vector<unsigned char> v(n);
      for (uint32_t i = 0; i < n; i++) {
        bool b = false;
        napi_get_value_bool(env, element(i), &b);
        v[i] = b ? 1 : 0;
      }
      Mix(hash, v.data(), v.size());
      if (list) {
        TF_SetAttrBoolList(desc, name.c_str(), v.data(), static_cast<int>(n));
      } else {
        TF_SetAttrBool(desc, name.c_str(), v[0]);
      }
      return true;
    }
    case TF_ATTR_TYPE: {
      int32_t dtype;
      if (napi_get_value_int32(env, value, &dtype) != napi_ok) break;
      MixInt(hash, dtype);
      TF_SetAttrType(desc, name.c_str(), static_cast<TF_DataType>(dtype));
      return true;
    }
    case TF_ATTR_SHAPE: {
      std::vector<int64_t> dims(list ? n : 0);
      for (uint32_t i = 0; i < dims.size(); i++) napi_get_value_int64(env, element(i), &dims[i]);
      Mix(hash, dims.data(), dims.size() * sizeof(int64_t));
      TF_SetAttrShape(desc, name.c_str(), dims.data(), static_cast<int>(dims.size()));
      return true;
    }
    default:
      break;
  }
  *error = "attribute " + name + " of a type the trace cannot copy (" + std::to_string(type) + ")";
  return false;
}

}  // namespace

Recorder::~Recorder() { Abort(); }

void Recorder::Begin() {
  Abort();
  graph_ = TF_NewGraph();
}

void Recorder::Abort() {
  if (graph_) TF_DeleteGraph(graph_);
  graph_ = nullptr;
  outputs_.clear();
  consts_.clear();
  input_ids_.clear();
  inputs_.clear();
  const_hashes_.clear();
  op_index_.clear();
  structure_ = 0;
  ops_ = 0;
  error_.clear();
}

void Recorder::MarkConst(int32_t id) {
  if (Active()) consts_.insert(id);
}

void Recorder::Fail(const std::string &why) {
  if (error_.empty()) error_ = why;
}

// The graph output holding tensor `id`: an op's output, else a new Const (values made in
// JavaScript during the trace) or Placeholder (a tensor that existed before it).
bool Recorder::Output(int32_t id, const HandleOf &handle_of, TF_Output *out) {
  auto it = outputs_.find(id);
  if (it != outputs_.end()) {
    *out = it->second;
    return true;
  }
  TFE_TensorHandle *h = handle_of(id);
  if (!h) {
    Fail("tensor id " + std::to_string(id) + " is not a live tensor");
    return false;
  }
  TF_Status *status = TF_NewStatus();
  const TF_DataType dtype = TFE_TensorHandleDataType(h);
  std::vector<int64_t> dims(TFE_TensorHandleNumDims(h, status));
  for (size_t i = 0; i < dims.size(); i++) dims[i] = TFE_TensorHandleDim(h, i, status);
  const bool is_const = consts_.count(id) > 0;
  const std::string node =
      (is_const ? "const_" : "input_") +
      std::to_string(is_const ? const_hashes_.size() : input_ids_.size());
  TF_OperationDescription *desc =
      TF_NewOperation(graph_, is_const ? "Const" : "Placeholder", node.c_str());
  TF_SetAttrType(desc, "dtype", dtype);
  if (is_const) {
    TF_Tensor *t = TFE_TensorHandleResolve(h, status);
    if (TF_GetCode(status) == TF_OK) {
      uint64_t hash = 0;
      MixInt(&hash, dtype);
      Mix(&hash, dims.data(), dims.size() * sizeof(int64_t));
      if (dtype != TF_STRING) Mix(&hash, TF_TensorData(t), TF_TensorByteSize(t));
      const_hashes_.push_back(Hex(hash));
      TF_SetAttrTensor(desc, "value", t, status);
      TF_DeleteTensor(t);
    }
  } else {
    TF_SetAttrShape(desc, "shape", dims.data(), static_cast<int>(dims.size()));
  }
  TF_Operation *oper = nullptr;
  if (TF_GetCode(status) == TF_OK) oper = TF_FinishOperation(desc, status);
  const bool ok = TF_GetCode(status) == TF_OK;
  if (!ok) Fail("could not make " + node + ": " + TF_Message(status));
  TF_DeleteStatus(status);
  if (!ok) return false;
  *out = TF_Output{oper, 0};
  outputs_[id] = *out;
  if (!is_const) {
    input_ids_.push_back(id);
    inputs_.push_back(*out);
  }
  return true;
}

void Recorder::Record(napi_env env, const std::string &op_name, TFE_Op *op, napi_value attrs,
                      const std::vector<int32_t> &inputs, int32_t first_output, int num_outputs,
                      const HandleOf &handle_of) {
  if (!Active() || !error_.empty()) return;
  std::vector<Arg> args;
  if (!InputArgs(graph_, op_name, &args, &error_)) return;
  std::vector<TF_Output> wired(inputs.size());
  for (size_t i = 0; i < inputs.size(); i++) {
    if (!Output(inputs[i], handle_of, &wired[i])) return;
  }
  const std::string node = "op_" + std::to_string(ops_);
  TF_OperationDescription *desc = TF_NewOperation(graph_, op_name.c_str(), node.c_str());
  MixString(&structure_, op_name);
  TF_Status *status = TF_NewStatus();
  size_t next = 0;
  for (const Arg &arg : args) {
    int count = 1;
    if (arg.list) count = TFE_OpGetInputLength(op, arg.name.c_str(), status);
    if (TF_GetCode(status) != TF_OK || count < 0 || next + count > wired.size()) {
      Fail(op_name + ": could not match its inputs to its arguments");
      break;
    }
    for (int k = 0; k < count; k++) {
      const TF_Output &w = wired[next + k];
      auto idx = op_index_.find(w.oper);
      // Wiring: which op (by order) and output, or which input / constant node by name.
      if (idx != op_index_.end()) {
        MixInt(&structure_, idx->second);
      } else {
        MixString(&structure_, TF_OperationName(w.oper));
      }
      MixInt(&structure_, w.index);
    }
    if (arg.list) {
      TF_AddInputList(desc, wired.data() + next, count);
    } else {
      TF_AddInput(desc, wired[next]);
    }
    next += count;
  }
  if (error_.empty() && next != wired.size()) Fail(op_name + ": more inputs than arguments");
  uint32_t n_attrs = 0;
  napi_get_array_length(env, attrs, &n_attrs);
  for (uint32_t i = 0; i < n_attrs && error_.empty(); i++) {
    napi_value attr;
    napi_get_element(env, attrs, i, &attr);
    std::string why;
    if (!SetAttr(env, desc, attr, &structure_, &why)) Fail(op_name + ": " + why);
  }
  TF_Operation *oper = TF_FinishOperation(desc, status);  // also frees desc on failure
  if (error_.empty() && TF_GetCode(status) != TF_OK) {
    Fail(op_name + ": " + TF_Message(status));
  }
  TF_DeleteStatus(status);
  if (!error_.empty()) return;
  if (TF_OperationNumOutputs(oper) != num_outputs) {
    Fail(op_name + ": the graph op has " + std::to_string(TF_OperationNumOutputs(oper)) +
         " outputs, the eager one " + std::to_string(num_outputs));
    return;
  }
  op_index_[oper] = ops_++;
  for (int i = 0; i < num_outputs; i++) outputs_[first_output + i] = TF_Output{oper, i};
}

napi_value Recorder::End(napi_env env, TFE_Context *ctx, const std::string &name,
                         const std::vector<int32_t> &outputs, const HandleOf &handle_of) {
  if (!Active()) {
    napi_throw_error(env, nullptr, "traceEnd: no trace is open");
    return nullptr;
  }
  std::vector<TF_Output> outs;
  TF_Status *status = TF_NewStatus();
  for (size_t i = 0; i < outputs.size() && error_.empty(); i++) {
    TF_Output src;
    if (!Output(outputs[i], handle_of, &src)) break;
    // An Identity per output: an output may be an input, a constant or another output.
    const std::string node = "output_" + std::to_string(i);
    TF_OperationDescription *desc = TF_NewOperation(graph_, "Identity", node.c_str());
    TF_AddInput(desc, src);
    TF_Operation *oper = TF_FinishOperation(desc, status);
    if (TF_GetCode(status) != TF_OK) {
      Fail("output " + std::to_string(i) + ": " + TF_Message(status));
      break;
    }
    outs.push_back(TF_Output{oper, 0});
    auto idx = op_index_.find(src.oper);
    MixInt(&structure_, idx == op_index_.end() ? -1 : idx->second);
    MixString(&structure_, TF_OperationName(src.oper));
    MixInt(&structure_, src.index);
  }
  if (error_.empty()) {
    TF_Function *fn = TF_GraphToFunction(graph_, name.c_str(), 0, -1, nullptr,
                                         static_cast<int>(inputs_.size()), inputs_.data(),
                                         static_cast<int>(outs.size()), outs.data(), nullptr,
                                         nullptr, nullptr, status);
    if (TF_GetCode(status) == TF_OK) {
      TFE_ContextAddFunction(ctx, fn, status);
      if (TF_GetCode(status) != TF_OK) Fail(std::string("adding the function: ") + TF_Message(status));
      TF_DeleteFunction(fn);
    } else {
      Fail(std::string("building the function: ") + TF_Message(status));
    }
  }
  TF_DeleteStatus(status);
  if (!error_.empty()) {
    const std::string why = "trace failed: " + error_;
    Abort();
    napi_throw_error(env, nullptr, why.c_str());
    return nullptr;
  }
  napi_value result, v, ids, consts;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, name.c_str(), name.size(), &v);
  napi_set_named_property(env, result, "name", v);
  napi_create_array_with_length(env, input_ids_.size(), &ids);
  for (size_t i = 0; i < input_ids_.size(); i++) {
    napi_create_int32(env, input_ids_[i], &v);
    napi_set_element(env, ids, i, v);
  }
  napi_set_named_property(env, result, "inputIds", ids);
  napi_create_array_with_length(env, const_hashes_.size(), &consts);
  for (size_t i = 0; i < const_hashes_.size(); i++) {
    napi_create_string_utf8(env, const_hashes_[i].c_str(), const_hashes_[i].size(), &v);
    napi_set_element(env, consts, i, v);
  }
  napi_set_named_property(env, result, "consts", consts);
  const std::string structure = Hex(structure_);
  napi_create_string_utf8(env, structure.c_str(), structure.size(), &v);
  napi_set_named_property(env, result, "structure", v);
  napi_create_int32(env, ops_, &v);
  napi_set_named_property(env, result, "ops", v);
  Abort();
  return result;
}

namespace {
bool Args(napi_env env, napi_callback_info info, size_t want, napi_value *args) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, args, nullptr, nullptr) != napi_ok || argc < want) {
    napi_throw_error(env, nullptr, "graph trace: too few arguments");
    return false;
  }
  return true;
}
napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}
}  // namespace

napi_value TraceBegin(napi_env env, napi_callback_info, Recorder *recorder) {
  recorder->Begin();
  return Undefined(env);
}

napi_value TraceConst(napi_env env, napi_callback_info info, Recorder *recorder) {
  napi_value args[1];
  if (!Args(env, info, 1, args)) return nullptr;
  int32_t id;
  if (napi_get_value_int32(env, args[0], &id) != napi_ok) return nullptr;
  recorder->MarkConst(id);
  return Undefined(env);
}

napi_value TraceEnd(napi_env env, napi_callback_info info, Recorder *recorder, TFE_Context *ctx,
                    const HandleOf &handle_of) {
  napi_value args[2];
  if (!Args(env, info, 2, args)) return nullptr;
  std::string name;
  std::vector<int32_t> outputs;
  if (!GetString(env, args[0], &name) || !GetInts(env, args[1], &outputs)) {
    napi_throw_error(env, nullptr, "traceEnd(name, outputIds): bad arguments");
    return nullptr;
  }
  return recorder->End(env, ctx, name, outputs, handle_of);
}

napi_value TraceAbort(napi_env env, napi_callback_info, Recorder *recorder) {
  recorder->Abort();
  return Undefined(env);
}

napi_value TraceRemove(napi_env env, napi_callback_info info, TFE_Context *ctx) {
  napi_value args[1];
  if (!Args(env, info, 1, args)) return nullptr;
  std::string name;
  if (!GetString(env, args[0], &name)) return nullptr;
  TF_Status *status = TF_NewStatus();
  TFE_ContextRemoveFunction(ctx, name.c_str(), status);
  TF_DeleteStatus(status);  // removing a function that is not there is not an error here
  return Undefined(env);
}

}  // namespace graph_trace
