#!/usr/bin/env node
// adamconf adapter (docs/protocol.md, adamconf-adapter/2) for TensorFlow.js:
// tfjs-core's AdamOptimizer (src/optimizers/adam_optimizer.ts) on the cpu
// backend, float32 (the only float dtype tfjs has).
//
//     (cd adapters/tfjs && npm ci)
//     adamconf check --impl "node adapters/tfjs/adapter.js" --preset tfjs-adam
//
// Each tensor is a tf.variable with an AdamOptimizer of its own: tfjs keeps
// one running product beta^t (accBeta1/accBeta2) per optimizer and advances it
// on every applyGradients, so one optimizer per tensor gives each tensor its
// own step count, as adamconf counts. A step is applyGradients({name: grad});
// a tensor with no gradient is not passed. The learning rate per step is the
// optimizer's learningRate, which applyGradients reads. The state goes through
// tfjs's own getWeights/setWeights ([iterations, m, v]; setWeights sets
// accBeta to beta^(t+1) with tf.pow).
const readline = require("readline");
const tf = require("@tensorflow/tfjs-core");
require("@tensorflow/tfjs-backend-cpu");

const HELLO = {
  protocol: "adamconf-adapter/2",
  name: `tfjs-core ${tf.version_core} AdamOptimizer (cpu backend)`,
  optimizers: [{
    name: "tf.train.adam", presets: ["tfjs-adam"], dtypes: ["float32"],
    // round_trip=within-bound: setWeights re-derives accBeta as pow(beta, t + 1) where the
    // uninterrupted run holds a running product, so a restored run does not continue bit for bit.
    hyperparameters: ["lr", "beta1", "beta2", "eps"], options: ["round_trip=within-bound", "step_counter=int32"], state: true,
    lr_schedule: true,
  }],
};

let serial = 0;

async function runCase(request, c) {
  const o = request.options || {};
  if (o.amsgrad || o.maximize || o.bias_correction === false)
    throw new Error("tfjs's AdamOptimizer has no amsgrad, maximize or bias-correction switch");
  const tensors = c.tensors.map((t) => {
    const h = c.groups[t.group].hyperparameters;
    const name = `adamconf_${serial++}`;
    return {
      variable: tf.variable(tf.tensor1d(t.theta0, "float32"), true, name),
      optimizer: tf.train.adam(h.lr, h.beta1, h.beta2, h.eps),
      name,
    };
  });
  const states = [], thetas = [];
  try {
    if (c.state) {
      for (let k = 0; k < tensors.length; ++k) {
        const s = c.state[k];
        await tensors[k].optimizer.setWeights([
          { name: "iter", tensor: tf.scalar(s.step, "int32") },
          { name: `${tensors[k].name}/m`, tensor: tf.tensor1d(s.m, "float32") },
          { name: `${tensors[k].name}/v`, tensor: tf.tensor1d(s.v, "float32") },
        ]);
      }
    }
    for (let step = 0; step < c.grads.length; ++step) {
      c.grads[step].forEach((g, k) => {
        if (g === null) return;  // no gradient: the variable, its moments and its count stay
        const x = tensors[k];
        if (c.lrs) x.optimizer.learningRate = c.lrs[step];
        const grad = tf.tensor1d(g, "float32");
        x.optimizer.applyGradients({ [x.name]: grad });
        grad.dispose();
      });
      thetas.push(tensors.map((x) => Array.from(x.variable.dataSync())));
      if (c.record_states) states.push(await Promise.all(tensors.map((x) => stateOf(x))));
    }
  } finally {
    for (const x of tensors) {
      x.optimizer.dispose();
      x.variable.dispose();
    }
  }
  return { theta: thetas, states };
}

async function stateOf(x) {
  const n = x.variable.size;
  const w = await x.optimizer.getWeights();
  const step = x.optimizer.iterations;
  if (w.length < 3) return { step, m: new Array(n).fill(0), v: new Array(n).fill(0), vmax: [] };  // never stepped
  return { step, m: Array.from(w[1].tensor.dataSync()), v: Array.from(w[2].tensor.dataSync()), vmax: [] };
}

async function main() {
  await tf.setBackend("cpu");
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    let request, answer;
    try {
      request = JSON.parse(line);
      if (request.op === "hello") {
        answer = HELLO;
      } else {
        const results = [];
        for (const c of request.cases) results.push(await runCase(request, c));
        answer = { id: request.id, results };
      }
    } catch (e) {  // one line back to adamconf, and keep serving
      answer = { id: request ? request.id : null, error: `${e.name}: ${e.message}` };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
}

main();
