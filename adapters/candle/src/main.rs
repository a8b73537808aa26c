//! adamconf adapter (docs/protocol.md, adamconf-adapter/2) for candle-nn's AdamW
//! on candle's CPU device.
//!
//!     cargo build --release            (in adapters/candle)
//!     adamconf check --impl adapters/candle/target/release/adamconf-candle --preset candle-adamw
//!
//! Each tensor of a case is a `Var` with an `AdamW` of its own: candle's AdamW
//! keeps one step counter (`step_t`) for all its vars and advances it on every
//! `step` call, whether a var has a gradient or not, so one optimizer per tensor
//! is what gives each tensor its own count (the protocol's model). A step
//! without a gradient for a tensor does not call that tensor's `step` at all.
//! A step's learning rate goes through `Optimizer::set_learning_rate`.
//!
//! candle-nn 0.11 keeps the moments and `step_t` in private fields with no
//! accessor or record type, so the adapter can neither read nor set them: the
//! hello says `"state": false`.
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use serde_json::{json, Value};
use std::io::{BufRead, Write};

const PROTOCOL: &str = "adamconf-adapter/2";
const OPTIMIZER: &str = "candle_nn::AdamW";
const CANDLE_VERSION: &str = "0.11.1";

type Res<T> = Result<T, String>;

fn hello() -> Value {
    json!({
        "protocol": PROTOCOL,
        "name": format!("candle-nn {CANDLE_VERSION} AdamW (cpu)"),
        "optimizers": [{
            "name": OPTIMIZER,
            "presets": ["candle-adamw"],
            "dtypes": ["float32", "float64", "bfloat16", "float16"],
            "hyperparameters": ["lr", "beta1", "beta2", "eps", "weight_decay"],
            "options": [],
            "state": false,
            "lr_schedule": true
        }]
    })
}

fn dtype_of(name: &str) -> Res<DType> {
    match name {
        "float32" => Ok(DType::F32),
        "float64" => Ok(DType::F64),
        "bfloat16" => Ok(DType::BF16),
        "float16" => Ok(DType::F16),
        other => Err(format!("unsupported dtype {other:?}")),
    }
}

fn num(v: &Value, what: &str) -> Res<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{what}: not a number")),
        Value::String(s) => match s.as_str() {
            "nan" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            _ => Err(format!("{what}: unsupported number string {s:?}")),
        },
        _ => Err(format!("{what}: not a number")),
    }
}

fn list(v: &Value, what: &str) -> Res<Vec<f64>> {
    v.as_array()
        .ok_or_else(|| format!("{what}: not a list"))?
        .iter()
        .map(|x| num(x, what))
        .collect()
}

fn out_num(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else if x.is_nan() {
        json!("nan")
    } else if x > 0.0 {
        json!("inf")
    } else {
        json!("-inf")
    }
}

fn tensor(values: &[f64], dtype: DType) -> Res<Tensor> {
    // f64 -> dtype is exact: every value adamconf sends is a value of the dtype.
    Tensor::from_vec(values.to_vec(), values.len(), &Device::Cpu)
        .and_then(|t| t.to_dtype(dtype))
        .map_err(|e| e.to_string())
}

fn values(t: &Tensor) -> Res<Value> {
    let v: Vec<f64> = t
        .to_dtype(DType::F64)
        .and_then(|t| t.to_vec1::<f64>())
        .map_err(|e| e.to_string())?;
    Ok(Value::Array(v.into_iter().map(out_num).collect()))
}

fn hyper(h: &Value, name: &str) -> Res<f64> {
    num(h.get(name).ok_or_else(|| format!("group without {name}"))?, name)
}

fn run_case(request: &Value, case: &Value) -> Res<Value> {
    let dtype = dtype_of(request["dtype"].as_str().unwrap_or(""))?;
    let options = &request["options"];
    for (flag, off) in [("amsgrad", false), ("maximize", false), ("bias_correction", true)] {
        if let Some(b) = options.get(flag).and_then(Value::as_bool) {
            if b != off {
                return Err(format!("candle-nn AdamW has no {flag}={b}"));
            }
        }
    }
    if case.get("state").is_some_and(|s| !s.is_null()) {
        return Err("candle-nn AdamW's state cannot be imported (private fields)".into());
    }
    let tensors = case["tensors"].as_array().ok_or("case without tensors")?;
    let groups = case["groups"].as_array().ok_or("case without groups")?;
    let lrs = match case.get("lrs") {
        Some(v) if !v.is_null() => Some(list(v, "lrs")?),
        _ => None,
    };
    let mut vars = Vec::with_capacity(tensors.len());
    let mut opts = Vec::with_capacity(tensors.len());
    for (k, t) in tensors.iter().enumerate() {
        let g = t["group"].as_u64().ok_or("tensor without group")? as usize;
        let h = &groups.get(g).ok_or("group out of range")?["hyperparameters"];
        let params = ParamsAdamW {
            lr: hyper(h, "lr")?,
            beta1: hyper(h, "beta1")?,
            beta2: hyper(h, "beta2")?,
            eps: hyper(h, "eps")?,
            weight_decay: hyper(h, "weight_decay")?,
        };
        let theta0 = list(&t["theta0"], "theta0")?;
        let var = Var::from_tensor(&tensor(&theta0, dtype)?).map_err(|e| e.to_string())?;
        let opt = AdamW::new(vec![var.clone()], params).map_err(|e| format!("tensor {k}: {e}"))?;
        vars.push(var);
        opts.push(opt);
    }
    let grads = case["grads"].as_array().ok_or("case without grads")?;
    let mut thetas = Vec::with_capacity(grads.len());
    for (t, step) in grads.iter().enumerate() {
        let step = step.as_array().ok_or("a step's grads is not a list")?;
        if step.len() != vars.len() {
            return Err(format!("step {t}: {} gradients for {} tensors", step.len(), vars.len()));
        }
        for (k, g) in step.iter().enumerate() {
            if g.is_null() {
                continue; // no gradient: this tensor's optimizer takes no step
            }
            if vars[k].as_tensor().elem_count() == 0 {
                // An empty tensor has nothing to step, and candle's Var::set refuses the
                // result of a step over one ("a tensor that is derived from its value").
                continue;
            }
            let g = tensor(&list(g, "grad")?, dtype)?;
            if let Some(lrs) = &lrs {
                opts[k].set_learning_rate(lrs[t]);
            }
            let mut store = GradStore::default();
            store.insert(vars[k].as_tensor(), g);
            opts[k].step(&store).map_err(|e| format!("step {t} tensor {k}: {e}"))?;
        }
        thetas.push(Value::Array(vars.iter().map(|v| values(v.as_tensor())).collect::<Res<_>>()?));
    }
    Ok(json!({"theta": thetas}))
}

fn answer(request: &Value) -> Res<Value> {
    match request["op"].as_str() {
        Some("hello") => Ok(hello()),
        Some("run") => {
            if request["optimizer"].as_str() != Some(OPTIMIZER) {
                return Err(format!("unknown optimizer {}", request["optimizer"]));
            }
            let cases = request["cases"].as_array().ok_or("request without cases")?;
            let results = cases.iter().map(|c| run_case(request, c)).collect::<Res<Vec<_>>>()?;
            Ok(json!({"id": request["id"], "results": results}))
        }
        other => Err(format!("unknown op {other:?}")),
    }
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = match line {
            Ok(l) => l,
            Err(_) => break,
        };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Value>(&line) {
            Err(e) => json!({"id": null, "error": format!("request is not JSON: {e}")}),
            Ok(request) => {
                let result = std::panic::catch_unwind(|| answer(&request))
                    .unwrap_or_else(|p| Err(format!("panic: {}", panic_text(&p))));
                match result {
                    Ok(v) => v,
                    Err(e) => json!({"id": request.get("id").cloned().unwrap_or(Value::Null),
                                     "error": one_line(&e)}),
                }
            }
        };
        let _ = writeln!(out, "{reply}");
        let _ = out.flush();
    }
}

/// The first line of an error (candle appends a backtrace when RUST_BACKTRACE is set).
fn one_line(e: &str) -> String {
    e.lines().next().unwrap_or("").trim_end().to_string()
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown".into()
    }
}
