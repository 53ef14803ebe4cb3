#!/usr/bin/env node
// Peer for tests/bench/routeros-peers.sh: node-routeros with every command in flight
// at once (Promise.all over one connection, its best case).
// usage: node bench_peer.js HOST PORT ADD_COUNT PREFIX
// Prints `add_s=… list_s=… listed=… cpu_s=… disconnect_s=… disconnected=…`.
'use strict';
const { RouterOSAPI } = require('node-routeros');

async function main() {
  const [host, port, count, prefix] = process.argv.slice(2);
  const api = new RouterOSAPI({ host, port: Number(port), user: 'admin', password: '', timeout: 60 });
  await api.connect();
  let t = process.hrtime.bigint();
  const adds = [];
  for (let i = 0; i < Number(count); i++) {
    const name = `${prefix}${String(i).padStart(5, '0')}`;
    adds.push(api.write('/ip/hotspot/user/add', [`=name=${name}`, '=password=x', '=profile=default', '=comment=bench']));
  }
  await Promise.all(adds);
  const addS = Number(process.hrtime.bigint() - t) / 1e9;
  const cpu0 = process.cpuUsage();
  t = process.hrtime.bigint();
  const rows = await api.write('/ip/hotspot/user/print', ['=.proplist=.id,name,bytes-in,bytes-out']);
  const listS = Number(process.hrtime.bigint() - t) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  t = process.hrtime.bigint();
  const sessions = await api.write('/ip/hotspot/active/print', ['=.proplist=.id']);
  await Promise.all(sessions.map((s) => api.write('/ip/hotspot/active/remove', [`=.id=${s['.id']}`])));
  const discS = Number(process.hrtime.bigint() - t) / 1e9;
  console.log(`add_s=${addS.toFixed(4)} list_s=${listS.toFixed(4)} listed=${rows.length} cpu_s=${((cpu.user + cpu.system) / 1e6).toFixed(4)} disconnect_s=${discS.toFixed(4)} disconnected=${sessions.length}`);
  await api.close();
}

main().catch((e) => {
  console.error(`bench_peer: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
