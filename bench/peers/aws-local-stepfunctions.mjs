// The in-process peer: the TypeScript interpreter `aws-local-stepfunctions`
// (npm) on the workload of `cargo bench -p stepwise-asl -- local/pass10_execution`:
// one execution of 10 Pass states, each with `Parameters` {step, id.$, payload.$}
// (ResultPath defaults to $; the peer mishandles an explicit "$"), input {"id": 1, "payload": {"a": [1, 2, 3]}}.
//
//   bash bench/peers/run-aws-local-stepfunctions.sh
//
// Prints one JSON line: microseconds per execution and per transition.
import { StateMachine } from 'aws-local-stepfunctions';

const states = {};
for (let i = 0; i < 10; i++) {
  const s = { Type: 'Pass', Parameters: { step: i, 'id.$': '$.id', 'payload.$': '$.payload' } };
  if (i === 9) s.End = true; else s.Next = `P${i + 1}`;
  states[`P${i}`] = s;
}
const machine = new StateMachine({ StartAt: 'P0', States: states });
const input = { id: 1, payload: { a: [1, 2, 3] } };

async function once() {
  const execution = machine.run(input);
  return execution.result;
}

const check = await once();
if (check.step !== 9 || check.id !== 1) {
  console.error('unexpected output', JSON.stringify(check));
  process.exit(1);
}
// Warm up the JIT, then measure a fixed number of executions, best of 5 rounds.
for (let i = 0; i < 2000; i++) await once();
const n = Number(process.env.EXECUTIONS ?? 5000);
let best = Infinity;
for (let round = 0; round < 5; round++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await once();
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  best = Math.min(best, us);
}
console.log(JSON.stringify({
  peer: 'aws-local-stepfunctions',
  node: process.version,
  executions_per_round: n,
  us_per_execution: Number(best.toFixed(2)),
  us_per_transition: Number((best / 10).toFixed(3)),
}));
