// The engine's Session for JS: loadModel() → Promise<Session>; step, optimizerStep, evalLoss, generate,
// saveAdapter/loadAdapter, saveState/loadState run on a worker thread and return promises; memory()
// and dispose() are synchronous. Arguments are checked and copied on the JS thread (so JS may reuse its
// arrays at once); every C++ exception becomes a rejected promise whose message says what to do.
// The decision to know: a session runs one call at a time. A call made while another is running is
// rejected ("busy") rather than queued, so a caller who forgot an await hears about it.
// Backends: 'cpu', 'cuda', or (no backend given) CUDA when probe() finds a usable GPU, else the CPU. On
// CUDA a CudaModel trains (step, evalLoss, optimizerStep) while the host Model keeps the files and
// generation; the trainable state moves to the host before a host call reads it and back after a load.
#include <napi.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "model.h"
#include "probe.h"
#include "session.h"
#ifdef TUNESMITH_WITH_CUDA
#include "cuda/cuda_model.h"
#endif

namespace tunesmith {
namespace {

// ---- argument checking ------------------------------------------------------------------------------

[[noreturn]] void usage(const std::string& message) { throw std::invalid_argument(message); }

const char* kind(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) return "a typed array of another kind";
  if (v.IsArray()) return "an array";
  if (v.IsString()) return "a string";
  if (v.IsNumber()) return "a number";
  if (v.IsBoolean()) return "a boolean";
  return "an object";
}

Napi::Object object_arg(const Napi::Value& v, const std::string& what, bool optional = false) {
  if (optional && (v.IsUndefined() || v.IsNull())) return Napi::Object::New(v.Env());
  if (!v.IsObject() || v.IsArray()) usage(what + " must be an object (got " + kind(v) + ")");
  return v.As<Napi::Object>();
}

double number_field(const Napi::Object& o, const char* key, const std::string& where, double fallback,
                    bool required = false) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) usage(where + "." + key + " is required");
    return fallback;
  }
  if (!v.IsNumber()) usage(where + "." + key + " must be a number (got " + kind(v) + ")");
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(x)) usage(where + "." + key + " must be a finite number");
  return x;
}

int int_field(const Napi::Object& o, const char* key, const std::string& where, int fallback, int lo, int hi,
              bool required = false) {
  const double x = number_field(o, key, where, fallback, required);
  if (x != std::floor(x) || x < lo || x > hi)
    usage(where + "." + key + " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
          " (got " + std::to_string(x) + ")");
  return static_cast<int>(x);
}

bool bool_field(const Napi::Object& o, const char* key, const std::string& where, bool fallback) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) usage(where + "." + key + " must be true or false (got " + kind(v) + ")");
  return v.As<Napi::Boolean>().Value();
}

std::string string_arg(const Napi::Value& v, const std::string& what) {
  if (!v.IsString() || v.As<Napi::String>().Utf8Value().empty())
    usage(what + " must be a non-empty string (got " + kind(v) + ")");
  return v.As<Napi::String>().Utf8Value();
}

template <typename T, napi_typedarray_type Type>
std::vector<T> typed_array(const Napi::Value& v, const std::string& what, const char* type_name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != Type)
    usage(what + " must be a " + type_name + " (got " + kind(v) + ")");
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  return std::vector<T>(arr.Data(), arr.Data() + arr.ElementLength());
}

struct OwnedBatch {
  std::vector<int32_t> tokens, seq_lens;
  std::vector<uint8_t> trained;
  Batch view() const {
    return Batch{tokens.data(), trained.data(), seq_lens.data(), int(tokens.size()), int(seq_lens.size())};
  }
};

OwnedBatch batch_arg(const Napi::Value& v, const std::string& call) {
  const Napi::Object o = object_arg(v, call + ": batch");
  OwnedBatch b;
  b.tokens = typed_array<int32_t, napi_int32_array>(o.Get("tokens"), call + ": batch.tokens", "Int32Array");
  b.trained = typed_array<uint8_t, napi_uint8_array>(o.Get("trained"), call + ": batch.trained", "Uint8Array");
  b.seq_lens = typed_array<int32_t, napi_int32_array>(o.Get("seqLens"), call + ": batch.seqLens", "Int32Array");
  if (b.trained.size() != b.tokens.size())
    usage(call + ": batch.trained has " + std::to_string(b.trained.size()) + " entries but batch.tokens has " +
          std::to_string(b.tokens.size()) + "; give one mask entry per token");
  return b;
}

// ---- async plumbing ---------------------------------------------------------------------------------

// Runs work() on a libuv worker thread; resolves with to_js(env) or rejects with the error message.
class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, std::function<void()> work, std::function<Napi::Value(Napi::Env)> to_js,
      std::function<void()> done)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        to_js_(std::move(to_js)), done_(std::move(done)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      work_();
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error");
    }
  }
  void OnOK() override {
    done_();
    try {
      deferred_.Resolve(to_js_(Env()));
    } catch (const std::exception& e) {
      deferred_.Reject(Napi::Error::New(Env(), e.what()).Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    done_();
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> to_js_;
  std::function<void()> done_;
};

Napi::Value rejected(Napi::Env env, const std::string& message) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(Napi::Error::New(env, message).Value());
  return d.Promise();
}

// ---- the GPU half of a session ---------------------------------------------------------------------

#ifdef TUNESMITH_WITH_CUDA
using GpuTrainer = cuda::CudaModel;
#else
// A build without CUDA never makes one (loadModel refuses 'cuda' first); this only keeps the calls compiling.
struct GpuTrainer {
  LossResult step(const Batch&, const StepOptions&) { return {}; }
  LossResult eval_loss(const Batch&) { return {}; }
  OptimizerResult optimizer_step(const AdamWParams&, float) { return {}; }
  int64_t optimizer_steps() const { return 0; }
  void copy_params_to_host() {}
  void copy_params_from_host() {}
  void copy_state_to_host() {}
  void copy_state_from_host() {}
  MemoryInfo memory() const { return {}; }
};
#endif

// What a host-side call needs from the GPU first (before) or gives back to it (after).
enum class Sync { kNone, kParams, kState };

// ---- Session --------------------------------------------------------------------------------------

class Session : public Napi::ObjectWrap<Session> {
 public:
  static Napi::FunctionReference constructor;

  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Session",
                       {InstanceMethod("step", &Session::step), InstanceMethod("optimizerStep", &Session::optimizer_step),
                        InstanceMethod("evalLoss", &Session::eval_loss), InstanceMethod("generate", &Session::generate),
                        InstanceMethod("logits", &Session::logits),
                        InstanceMethod("saveAdapter", &Session::save_adapter),
                        InstanceMethod("loadAdapter", &Session::load_adapter),
                        InstanceMethod("saveState", &Session::save_state),
                        InstanceMethod("loadState", &Session::load_state), InstanceMethod("memory", &Session::memory),
                        InstanceMethod("dispose", &Session::dispose), InstanceMethod("info", &Session::info)});
  }

  explicit Session(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Session>(info) {}
  void attach(std::shared_ptr<Model> model, std::shared_ptr<GpuTrainer> gpu) {
    model_ = std::move(model);
    gpu_ = std::move(gpu);
  }

 private:
  // Starts `work` if the session is free; `call` names the method in errors.
  template <typename Work, typename ToJs>
  Napi::Value start(Napi::Env env, const std::string& call, Work work, ToJs to_js) {
    if (!model_) return rejected(env, call + ": this session was disposed; load the model again with loadModel()");
    bool expected = false;
    if (!busy_->compare_exchange_strong(expected, true))
      return rejected(env, call + ": the session is busy with another call; await it before calling " + call);
    auto busy = busy_;
    auto* job = new Job(env, std::move(work), std::move(to_js), [busy] { busy->store(false); });
    Napi::Promise p = job->promise();
    job->Queue();
    return p;
  }

  template <typename Fn>
  Napi::Value guard(const Napi::CallbackInfo& info, const std::string& call, Fn fn) {
    try {
      return fn();
    } catch (const std::exception& e) {
      const std::string msg = e.what();
      return rejected(info.Env(), msg.rfind(call, 0) == 0 ? msg : call + ": " + msg);
    }
  }

  Napi::Value step(const Napi::CallbackInfo& info) {
    return guard(info, "step()", [&] {
      auto batch = std::make_shared<OwnedBatch>(batch_arg(info[0], "step()"));
      const Napi::Object o = object_arg(info[1], "step(): options", true);
      StepOptions so;
      so.neftune_alpha = float(number_field(o, "neftuneAlpha", "step(): options", 0));
      if (so.neftune_alpha < 0) usage("step(): options.neftuneAlpha must be 0 or more");
      so.lora_dropout = bool_field(o, "loraDropout", "step(): options", true);
      auto model = model_;
      auto gpu = gpu_;
      auto result = std::make_shared<LossResult>();
      return start(info.Env(), "step()",
                   [=] { *result = gpu ? gpu->step(batch->view(), so) : model->step(batch->view(), so); },
                   [=](Napi::Env env) { return loss_to_js(env, *result); });
    });
  }

  Napi::Value eval_loss(const Napi::CallbackInfo& info) {
    return guard(info, "evalLoss()", [&] {
      auto batch = std::make_shared<OwnedBatch>(batch_arg(info[0], "evalLoss()"));
      auto model = model_;
      auto gpu = gpu_;
      auto result = std::make_shared<LossResult>();
      return start(info.Env(), "evalLoss()",
                   [=] { *result = gpu ? gpu->eval_loss(batch->view()) : model->eval_loss(batch->view()); },
                   [=](Napi::Env env) { return loss_to_js(env, *result); });
    });
  }

  // Next-token logits after the whole token list (one sequence, forward only, adapter applied): what
  // export verification compares against llama.cpp.
  Napi::Value logits(const Napi::CallbackInfo& info) {
    return guard(info, "logits()", [&] {
      auto batch = std::make_shared<OwnedBatch>();
      batch->tokens = typed_array<int32_t, napi_int32_array>(info[0], "logits(): tokens", "Int32Array");
      if (batch->tokens.empty()) usage("logits(): tokens is empty; give at least one token");
      batch->trained.assign(batch->tokens.size(), 0);
      batch->seq_lens = {int32_t(batch->tokens.size())};
      auto model = model_;
      auto gpu = gpu_;
      auto result = std::make_shared<std::vector<float>>();
      return start(info.Env(), "logits()", [=] {
            if (gpu) gpu->copy_params_to_host();
            std::vector<float> all = model->logits(batch->view());
            const size_t V = size_t(model->config().vocab);
            result->assign(all.end() - std::ptrdiff_t(V), all.end());
          },
          [=](Napi::Env env) -> Napi::Value {
            Napi::Float32Array out = Napi::Float32Array::New(env, result->size());
            std::memcpy(out.Data(), result->data(), sizeof(float) * result->size());
            return out;
          });
    });
  }

  static Napi::Value loss_to_js(Napi::Env env, const LossResult& r) {
    Napi::Object out = Napi::Object::New(env);
    out.Set("loss", r.loss);
    out.Set("trainedTokens", double(r.trained_tokens));
    return out;
  }

  Napi::Value optimizer_step(const Napi::CallbackInfo& info) {
    return guard(info, "optimizerStep()", [&] {
      const std::string where = "optimizerStep(): options";
      const Napi::Object o = object_arg(info[0], where);
      AdamWParams hp;
      hp.lr = float(number_field(o, "lr", where, 0, true));
      hp.weight_decay = float(number_field(o, "weightDecay", where, 0));
      hp.beta1 = float(number_field(o, "beta1", where, 0.9));
      hp.beta2 = float(number_field(o, "beta2", where, 0.999));
      hp.eps = float(number_field(o, "eps", where, 1e-8));
      const float max_norm = float(number_field(o, "maxGradNorm", where, 1.0));
      if (hp.lr < 0 || hp.weight_decay < 0 || hp.eps <= 0) usage(where + ": lr and weightDecay must be >= 0, eps > 0");
      if (!(hp.beta1 >= 0 && hp.beta1 < 1 && hp.beta2 >= 0 && hp.beta2 < 1)) usage(where + ": beta1 and beta2 must be in [0, 1)");
      auto model = model_;
      auto gpu = gpu_;
      auto result = std::make_shared<OptimizerResult>();
      return start(info.Env(), "optimizerStep()",
                   [=] { *result = gpu ? gpu->optimizer_step(hp, max_norm) : model->optimizer_step(hp, max_norm); },
                   [=](Napi::Env env) -> Napi::Value {
                     Napi::Object out = Napi::Object::New(env);
                     out.Set("gradNorm", result->grad_norm);
                     out.Set("loss", result->loss);
                     out.Set("trainedTokens", double(result->trained_tokens));
                     out.Set("step", double(gpu ? gpu->optimizer_steps() : model->optimizer_steps()));
                     return out;
                   });
    });
  }

  Napi::Value generate(const Napi::CallbackInfo& info);

  // A call the host Model makes with a path; on CUDA, `before` moves state to the host first and
  // `after` moves what the call loaded back to the GPU.
  Napi::Value path_call(const Napi::CallbackInfo& info, const std::string& call,
                        std::function<void(Model&, const std::string&)> fn, Sync before = Sync::kNone,
                        Sync after = Sync::kNone) {
    return guard(info, call, [&] {
      const std::string path = string_arg(info[0], call + ": the path");
      auto model = model_;
      auto gpu = gpu_;
      return start(info.Env(), call,
                   [=] {
                     if (gpu && before == Sync::kParams) gpu->copy_params_to_host();
                     if (gpu && before == Sync::kState) gpu->copy_state_to_host();
                     fn(*model, path);
                     if (gpu && after == Sync::kParams) gpu->copy_params_from_host();
                     if (gpu && after == Sync::kState) gpu->copy_state_from_host();
                   },
                   [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
    });
  }

  Napi::Value save_adapter(const Napi::CallbackInfo& info) {
    std::string base = model_ ? model_->options().model_dir : "";
    if (info.Length() > 1 && info[1].IsObject()) {
      const Napi::Value b = info[1].As<Napi::Object>().Get("baseModelName");
      if (b.IsString()) base = b.As<Napi::String>().Utf8Value();
    }
    return path_call(
        info, "saveAdapter()", [base](Model& m, const std::string& dir) { m.save_adapter(dir, base); }, Sync::kParams);
  }
  Napi::Value load_adapter(const Napi::CallbackInfo& info) {
    return path_call(
        info, "loadAdapter()", [](Model& m, const std::string& dir) { m.load_adapter(dir); }, Sync::kNone,
        Sync::kParams);
  }
  Napi::Value save_state(const Napi::CallbackInfo& info) {
    return path_call(
        info, "saveState()", [](Model& m, const std::string& p) { m.save_state(p); }, Sync::kState);
  }
  Napi::Value load_state(const Napi::CallbackInfo& info) {
    return path_call(
        info, "loadState()", [](Model& m, const std::string& p) { m.load_state(p); }, Sync::kNone, Sync::kState);
  }

  Napi::Value memory(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    const MemoryInfo mi = model_ ? model_->memory() : MemoryInfo{};
    const MemoryInfo gpu = gpu_ ? gpu_->memory() : MemoryInfo{};  // device bytes, in the same fields
    out.Set("deviceBytes", double(gpu.host_bytes));
    out.Set("hostBytes", double(mi.host_bytes));
    out.Set("peakBytes", double(gpu_ ? gpu.peak_bytes : mi.peak_bytes));
    return out;
  }

  Napi::Value info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!model_) throw Napi::Error::New(env, "info(): this session was disposed");
    const ModelConfig& c = model_->config();
    Napi::Object out = Napi::Object::New(env);
    out.Set("arch", arch_name(c.arch));
    out.Set("backend", gpu_ ? "cuda" : "cpu");
    out.Set("vocabSize", c.vocab);
    out.Set("hiddenSize", c.hidden);
    out.Set("layers", c.layers);
    out.Set("loraParameters", double(model_->lora_param_count()));
    out.Set("optimizerSteps", double(gpu_ ? gpu_->optimizer_steps() : model_->optimizer_steps()));
    out.Set("threads", model_->options().threads);
    return out;
  }

  Napi::Value dispose(const Napi::CallbackInfo& info) {
    if (busy_->load())
      throw Napi::Error::New(info.Env(), "dispose(): a call is still running on this session; await it first");
    gpu_.reset();  // first: it refers to the host Model
    model_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Model> model_;
  std::shared_ptr<GpuTrainer> gpu_;  // on backend 'cuda': trains; null on 'cpu'
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

Napi::FunctionReference Session::constructor;

// generate: tokens stream through a thread-safe function, and the final result goes through the same
// queue, so onToken always sees every token before the promise settles.
Napi::Value Session::generate(const Napi::CallbackInfo& info) {
  return guard(info, "generate()", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const std::string where = "generate(): options";
    auto prompt32 = typed_array<int32_t, napi_int32_array>(info[0], "generate(): prompt", "Int32Array");
    const Napi::Object o = object_arg(info[1], where, true);
    GenerateOptions go;
    go.max_new_tokens = int_field(o, "maxNewTokens", where, 64, 1, 1 << 20);
    go.temperature = float(number_field(o, "temperature", where, 0));
    go.top_p = float(number_field(o, "topP", where, 1));
    go.use_adapter = bool_field(o, "useAdapter", where, true);
    const Napi::Value stops = o.Get("stopTokens");
    if (!stops.IsUndefined() && !stops.IsNull()) {
      if (!stops.IsArray()) usage(where + ".stopTokens must be an array of token ids");
      auto arr = stops.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        const Napi::Value t = arr.Get(i);
        if (!t.IsNumber()) usage(where + ".stopTokens[" + std::to_string(i) + "] must be a token id");
        go.stop_tokens.push_back(t.As<Napi::Number>().Int32Value());
      }
    }
    Napi::Function on_token;
    if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
      if (!info[2].IsFunction()) usage("generate(): onToken must be a function");
      on_token = info[2].As<Napi::Function>();
    }
    if (!model_) return rejected(env, "generate(): this session was disposed; load the model again with loadModel()");
    bool expected = false;
    if (!busy_->compare_exchange_strong(expected, true))
      return rejected(env, "generate(): the session is busy with another call; await it first");

    struct Shared {
      explicit Shared(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
      Napi::Promise::Deferred deferred;
      Napi::FunctionReference on_token;
      std::vector<int> out;
      std::string error;
      // Set when onToken returns false; the worker stops at its next token (one or two late, since
      // onToken runs on the JS thread after the worker has queued the token).
      std::atomic<bool> stop{false};
    };
    auto shared = std::make_shared<Shared>(env);
    if (!on_token.IsEmpty()) shared->on_token = Napi::Persistent(on_token);
    Napi::Promise promise = shared->deferred.Promise();
    auto tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                              "tunesmith.generate", 0, 1);
    auto model = model_;
    auto gpu = gpu_;
    auto busy = busy_;
    std::vector<int> prompt(prompt32.begin(), prompt32.end());
    auto run = [=]() mutable {
      try {
        if (gpu) gpu->copy_params_to_host();  // generation runs on the host Model
        model->generate(prompt, go, [&](int token) {
          if (shared->stop.load()) return false;
          tsfn.BlockingCall([shared, token](Napi::Env, Napi::Function) {
            if (shared->on_token.IsEmpty() || shared->stop.load()) return;
            try {
              const Napi::Value keep = shared->on_token.Call({Napi::Number::New(shared->on_token.Env(), token)});
              if (keep.IsBoolean() && !keep.As<Napi::Boolean>().Value()) shared->stop.store(true);
            } catch (...) {  // a throwing callback must not take the process down; the error is JS's
            }
          });
          return true;
        }).swap(shared->out);
      } catch (const std::exception& e) {
        shared->error = std::string("generate(): ") + e.what();
      }
      tsfn.BlockingCall([shared, busy](Napi::Env env, Napi::Function) {
        busy->store(false);
        if (!shared->error.empty()) {
          shared->deferred.Reject(Napi::Error::New(env, shared->error).Value());
          return;
        }
        auto arr = Napi::Int32Array::New(env, shared->out.size());
        for (size_t i = 0; i < shared->out.size(); ++i) arr[i] = shared->out[i];
        shared->deferred.Resolve(arr);
      });
      tsfn.Release();
    };
    try {
      std::thread(std::move(run)).detach();
    } catch (...) {  // no thread: undo, so the session is not left busy forever
      busy_->store(false);
      tsfn.Release();
      throw;
    }
    return promise;
  });
}

// ---- loadModel --------------------------------------------------------------------------------------

Napi::Value load_model(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    const std::string where = "loadModel(): options";
    const Napi::Object o = object_arg(info[0], where);
    ModelOptions opt;
    opt.model_dir = string_arg(o.Get("modelDir"), where + ".modelDir");
    const Napi::Value backend = o.Get("backend");
    const std::string wanted = backend.IsString() ? backend.As<Napi::String>().Utf8Value() : "";
    if (!backend.IsUndefined() && wanted != "cpu" && wanted != "cuda")
      usage(where + ".backend must be 'cpu' or 'cuda' (or left out: CUDA when a usable GPU is found)");
    bool use_gpu = false;
    if (wanted != "cpu") {
      const ProbeResult found = probe();
      use_gpu = found.cudaUsable;
      if (!use_gpu && wanted == "cuda")
        usage("loadModel(): backend 'cuda' cannot run here: " + found.error + " — use backend: 'cpu'");
    }
    const Napi::Value quant = o.Get("quant");
    const std::string q = quant.IsString() ? quant.As<Napi::String>().Utf8Value() : "";
    if (q != "nf4" && q != "none") usage(where + ".quant must be 'nf4' or 'none'");
    opt.nf4 = q == "nf4";
    const Napi::Object lora = object_arg(o.Get("lora"), where + ".lora");
    opt.lora.rank = int_field(lora, "r", where + ".lora", 16, 1, 4096, true);
    opt.lora.alpha = float(number_field(lora, "alpha", where + ".lora", 0, true));
    if (!(opt.lora.alpha > 0)) usage(where + ".lora.alpha must be greater than 0");
    opt.lora.dropout = float(number_field(lora, "dropout", where + ".lora", 0));
    if (opt.lora.dropout < 0 || opt.lora.dropout >= 1) usage(where + ".lora.dropout must be in [0, 1)");
    opt.lora.rslora = bool_field(lora, "useRslora", where + ".lora", false);
    const Napi::Value targets = lora.Get("targetModules");
    if (!targets.IsUndefined()) {
      if (!targets.IsArray() || targets.As<Napi::Array>().Length() == 0)
        usage(where + ".lora.targetModules must be a non-empty list such as ['q_proj', 'v_proj']");
      for (bool& t : opt.lora.targets) t = false;
      auto arr = targets.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Proj p;
        const Napi::Value name = arr.Get(i);
        if (!name.IsString() || !proj_from_name(name.As<Napi::String>().Utf8Value(), &p))
          usage(where + ".lora.targetModules[" + std::to_string(i) +
                "] must be one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj");
        opt.lora.targets[p] = true;
      }
    }
    opt.max_seq_len = int_field(o, "maxSeqLen", where, 0, 2, 1 << 20, true);
    opt.gradient_checkpointing = bool_field(o, "gradientCheckpointing", where, false);
    opt.seed = uint64_t(int_field(o, "seed", where, 0, 0, 2147483647));
    opt.threads = int_field(o, "threads", where, 0, 0, 1024);
    if (opt.threads == 0) opt.threads = ThreadPool::default_threads();

    auto model = std::make_shared<std::shared_ptr<Model>>();
    auto gpu = std::make_shared<std::shared_ptr<GpuTrainer>>();
    auto* job = new Job(
        env,
        [=] {
          *model = std::make_shared<Model>(opt);
#ifdef TUNESMITH_WITH_CUDA
          if (use_gpu) *gpu = std::make_shared<GpuTrainer>(**model);
#endif
        },
        [=](Napi::Env) -> Napi::Value {
          Napi::Object session = Session::constructor.New({});
          Session::Unwrap(session)->attach(*model, *gpu);
          return session;
        },
        [] {});
    Napi::Promise p = job->promise();
    job->Queue();
    return p;
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    return rejected(env, msg.rfind("loadModel()", 0) == 0 ? msg : "loadModel(): " + msg);
  }
}

}  // namespace

void init_session(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = Session::define(env);
  Session::constructor = Napi::Persistent(cls);
  Session::constructor.SuppressDestruct();
  exports.Set("loadModel", Napi::Function::New(env, load_model, "loadModel"));
}

}  // namespace tunesmith
