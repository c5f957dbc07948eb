// The /healthz probe of `npm run bench:load`, in a process of its own: the load generator's event
// loop is busy with 250 clients, and a probe inside it would time that loop's delays as well as
// the server's. Asks PROBE_URL every 100 ms until told to stop, then sends its latencies (ms) and failures;
// `reset` forgets the latencies so far (the failures count the whole run).
let probing = true;
const latencies = [];
let failures = 0;
process.on('message', (msg) => {
  if (msg === 'stop') probing = false;
  else if (msg === 'reset') latencies.length = 0;
});
while (probing) {
  const t = performance.now();
  try {
    const res = await fetch(process.env.PROBE_URL);
    await res.text();
    if (res.status !== 200) failures++;
  } catch {
    failures++;
  }
  latencies.push(performance.now() - t);
  await new Promise((r) => setTimeout(r, 100));
}
process.send({ latencies, failures }, () => process.exit(0));
