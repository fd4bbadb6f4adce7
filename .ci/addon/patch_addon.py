"""Adds the graph trace (graph_trace.h/.cc) to a copy of tfjs-node 4.22's addon sources.

Usage: patch_addon.py DIR, where DIR holds a copy of the package's binding.gyp and binding/.
Each edit is anchored on text of the 4.22 sources and fails loudly when the anchor is missing, so
a different tfjs-node version stops the build instead of compiling something half patched.
"""
import pathlib
import shutil
import sys

root = pathlib.Path(sys.argv[1])
here = pathlib.Path(__file__).parent


def edit(path, anchor, new, count=1):
    text = path.read_text()
    if text.count(anchor) != count:
        sys.exit(f"patch_addon: {path.name}: expected {count} of {anchor!r}, found {text.count(anchor)}")
    path.write_text(text.replace(anchor, new))


for name in ("graph_trace.h", "graph_trace.cc"):
    shutil.copy(here / name, root / "binding" / name)

edit(root / "binding.gyp", "'binding/tfjs_binding.cc'",
     "'binding/tfjs_binding.cc',\n      'binding/graph_trace.cc'")

header = root / "binding" / "tfjs_backend.h"
edit(header, '#include "tensorflow/c/eager/c_api.h"\n',
     '#include "tensorflow/c/eager/c_api.h"\n#include "graph_trace.h"\n')
edit(header, "  bool is_gpu_device;\n", """  bool is_gpu_device;

  // The open graph trace, if any (graph_trace.h), and what the binding's trace calls need.
  graph_trace::Recorder recorder;
  TFE_Context *context() { return tfe_context_; }
  TFE_TensorHandle *HandleOf(int32_t id) {
    auto it = tfe_handle_map_.find(id);
    return it == tfe_handle_map_.end() ? nullptr : it->second;
  }
""")

backend = root / "binding" / "tfjs_backend.cc"
edit(backend, """  napi_value output_tensor_infos;
  nstatus = napi_create_array_with_length(env, size, &output_tensor_infos);
""", """  const int32_t first_output_id = next_tensor_id_;
  napi_value output_tensor_infos;
  nstatus = napi_create_array_with_length(env, size, &output_tensor_infos);
""")
edit(backend, """    nstatus = napi_set_element(env, output_tensor_infos, i, tensor_info_value);
    ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
  }

  return output_tensor_infos;
}

/* Helper function to generate TensorInfo""", """    nstatus = napi_set_element(env, output_tensor_infos, i, tensor_info_value);
    ENSURE_NAPI_OK_RETVAL(env, nstatus, nullptr);
  }

  if (recorder.Active()) {
    std::vector<int32_t> trace_inputs(num_input_ids);
    for (uint32_t i = 0; i < num_input_ids; i++) {
      napi_value id_value;
      napi_get_element(env, input_tensor_ids, i, &id_value);
      napi_get_value_int32(env, id_value, &trace_inputs[i]);
    }
    recorder.Record(env, op_name, tfe_op.op, op_attr_inputs, trace_inputs, first_output_id,
                    size, [this](int32_t id) { return HandleOf(id); });
  }

  return output_tensor_infos;
}

/* Helper function to generate TensorInfo""")

binding = root / "binding" / "tfjs_binding.cc"
edit(binding, "static napi_value InitTFNodeJSBinding(napi_env env, napi_value exports) {", """#define GRAPH_TRACE_CALL(NAME, ...)                                    \\
  static napi_value NAME(napi_env env, napi_callback_info info) {      \\
    TFJSBackend *const backend = GetTFJSBackend(env);                  \\
    if (!backend) return nullptr;                                      \\
    return graph_trace::NAME(env, info, __VA_ARGS__);                  \\
  }
GRAPH_TRACE_CALL(TraceBegin, &backend->recorder)
GRAPH_TRACE_CALL(TraceConst, &backend->recorder)
GRAPH_TRACE_CALL(TraceEnd, &backend->recorder, backend->context(),
                 [backend](int32_t id) { return backend->HandleOf(id); })
GRAPH_TRACE_CALL(TraceAbort, &backend->recorder)
GRAPH_TRACE_CALL(TraceRemove, backend->context())
#undef GRAPH_TRACE_CALL

static napi_value InitTFNodeJSBinding(napi_env env, napi_value exports) {""")
edit(binding, """      {"getNumOfTensors", nullptr, GetNumOfTensors, nullptr, nullptr,
       nullptr, napi_default, nullptr},
""", """      {"getNumOfTensors", nullptr, GetNumOfTensors, nullptr, nullptr,
       nullptr, napi_default, nullptr},
      {"traceBegin", nullptr, TraceBegin, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"traceConst", nullptr, TraceConst, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"traceEnd", nullptr, TraceEnd, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"traceAbort", nullptr, TraceAbort, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"traceRemove", nullptr, TraceRemove, nullptr, nullptr, nullptr, napi_default, nullptr},
""")
print("patch_addon: graph trace added")
