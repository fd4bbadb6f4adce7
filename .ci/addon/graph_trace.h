// Records the ops tfjs-node's addon executes eagerly into a TF_Graph, and turns the recording into
// a TensorFlow function that the same context then runs as one op (see lib/backend/trace.ts).
//
// Compiled into tfjs-node's addon by .ci/tensorflow, which also adds the hooks this needs to the
// addon's own sources (.ci/addon/patch_addon.py): ExecuteOp calls Record() after each eager op
// while a trace is open, and the binding exports traceBegin/traceConst/traceEnd/traceAbort/
// traceRemove.
#ifndef DALLE_GRAPH_TRACE_H_
#define DALLE_GRAPH_TRACE_H_

#include <node_api.h>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tensorflow/c/c_api.h"
#include "tensorflow/c/eager/c_api.h"

namespace graph_trace {

// The eager handle of a tensor id, or nullptr.
using HandleOf = std::function<TFE_TensorHandle *(int32_t)>;

class Recorder {
 public:
  ~Recorder();
  bool Active() const { return graph_ != nullptr; }
  // Opens a trace (an open one is dropped).
  void Begin();
  // The tensor `id` holds values made in JavaScript during the trace: a Const, not an input.
  void MarkConst(int32_t id);
  // Adds one executed op: its name, the eager op (for list lengths), its JS attributes, its
  // input ids and its outputs (ids first_output … first_output + num_outputs − 1).
  void Record(napi_env env, const std::string &op_name, TFE_Op *op, napi_value attrs,
              const std::vector<int32_t> &inputs, int32_t first_output, int num_outputs,
              const HandleOf &handle_of);
  // Closes the trace: builds function `name` with the given outputs, adds it to `ctx`, and
  // returns {name, inputIds, structure, consts, ops}, or throws the first error of the trace.
  napi_value End(napi_env env, TFE_Context *ctx, const std::string &name,
                 const std::vector<int32_t> &outputs, const HandleOf &handle_of);
  // Drops an open trace.
  void Abort();

 private:
  bool Output(int32_t id, const HandleOf &handle_of, TF_Output *out);
  void Fail(const std::string &why);

  TF_Graph *graph_ = nullptr;
  std::unordered_map<int32_t, TF_Output> outputs_;
  std::unordered_set<int32_t> consts_;
  std::vector<int32_t> input_ids_;
  std::vector<TF_Output> inputs_;
  std::vector<std::string> const_hashes_;
  std::unordered_map<TF_Operation *, int> op_index_;
  uint64_t structure_ = 0;
  int ops_ = 0;
  std::string error_;
};

// Reads one exported call's arguments and runs it on `recorder` (see the binding's exports).
napi_value TraceBegin(napi_env env, napi_callback_info info, Recorder *recorder);
napi_value TraceConst(napi_env env, napi_callback_info info, Recorder *recorder);
napi_value TraceEnd(napi_env env, napi_callback_info info, Recorder *recorder, TFE_Context *ctx,
                    const HandleOf &handle_of);
napi_value TraceAbort(napi_env env, napi_callback_info info, Recorder *recorder);
napi_value TraceRemove(napi_env env, napi_callback_info info, TFE_Context *ctx);

}  // namespace graph_trace

#endif  // DALLE_GRAPH_TRACE_H_
