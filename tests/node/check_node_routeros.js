#!/usr/bin/env node
// Third-party check: node-routeros (aluisiora/node-routeros, from npm) against the
// simulated router. node-routeros encodes and decodes every word as Windows-1252, as
// WinBox on a Western-European Windows PC does, so `René` travels as the bytes
// `Ren\xe9`: the router must keep and compare those bytes. Then the menus that
// dashboards read on every page must answer with RouterOS's fields, and the ones
// tools add to (scheduler, logging actions, scripts) must take add and remove.
//
// Usage: node check_node_routeros.js HOST PORT VERSION
// Prints "check_node_routeros: ok", or what differed and exits 1.
'use strict';
const { RouterOSAPI } = require('node-routeros');

function fail(message) {
  console.error(`check_node_routeros: ${message}`);
  process.exit(1);
}

async function expectTrap(promise, text, what) {
  try {
    await promise;
  } catch (e) {
    if (!String(e.message).includes(text)) fail(`${what}: trapped ${JSON.stringify(e.message)}, expected ${text}`);
    return;
  }
  fail(`${what}: no trap, expected ${text}`);
}

function need(item, keys, what) {
  for (const k of keys) {
    if (!(k in item)) fail(`${what}: no ${k} in ${JSON.stringify(item)}`);
  }
}

async function main() {
  const [host, port, version] = process.argv.slice(2);
  if (!version) fail('usage: check_node_routeros.js HOST PORT VERSION');
  const api = new RouterOSAPI({ host, port: Number(port), user: 'admin', password: '', timeout: 10 });
  await api.connect();
  const tag = Math.random().toString(16).slice(2, 8);
  const count = async (path, words) => {
    const reply = await api.write(path, [...words, '=count-only=']);
    const ret = reply.length ? reply[reply.length - 1].ret : undefined;
    if (ret === undefined) fail(`${path} =count-only=: no =ret= in ${JSON.stringify(reply)}`);
    return Number(ret);
  };
  const v7 = version.startsWith('7');

  // Words are bytes: René (Windows-1252) and Renè are two users; a second René traps.
  const rene = `René-${tag}`;
  await api.write('/ip/hotspot/user/add', [`=name=${rene}`, '=password=pw']);
  await api.write('/ip/hotspot/user/add', [`=name=Renè-${tag}`, '=password=pw']);
  await expectTrap(
    api.write('/ip/hotspot/user/add', [`=name=${rene}`, '=password=pw']),
    'already have user',
    'a second René',
  );
  const found = await api.write('/ip/hotspot/user/print', [`?name=${rene}`]);
  if (found.length !== 1 || found[0].name !== rene) fail(`?name=René found ${JSON.stringify(found)}`);
  // node-routeros 1.6.9 throws on RouterOS 7.18's `!empty` (as the real router makes
  // it do), so "nothing found" is asked with count-only, which answers `=ret=0`.
  const none = await count('/ip/hotspot/user/print', [`?name=Renà-${tag}`]);
  if (none !== 0) fail(`?name=Renà found ${none} users`);
  await api.write('/ip/hotspot/user/remove', [`=.id=${found[0]['.id']}`]);

  // The dashboard's reads.
  const [board] = await api.write('/system/routerboard/print');
  need(board, ['routerboard', 'model', 'serial-number', 'firmware-type', 'current-firmware', 'upgrade-firmware'], '/system/routerboard');
  if (v7) need(board, ['board-name'], '/system/routerboard on v7');
  const ifaces = await api.write('/interface/print');
  if (!ifaces.some((i) => i.name === 'ether1' && i.type === 'ether')) fail(`/interface: ${JSON.stringify(ifaces)}`);
  need(ifaces[0], ['.id', 'name', 'type', 'mtu', 'running', 'disabled'], '/interface');
  const pools = await api.write('/ip/pool/print');
  if (!pools.some((p) => p.name === 'hs-pool-1' && p.ranges)) fail(`/ip/pool: ${JSON.stringify(pools)}`);
  if ((await count('/queue/simple/print', [])) !== 0) fail('/queue/simple: not empty on a fresh router');
  if ((await count('/ip/hotspot/cookie/print', [])) !== 0) fail('/ip/hotspot/cookie: not empty');
  const rules = await api.write('/system/logging/print');
  if (!rules.some((r) => r.topics === 'info' && r.action === 'memory')) fail(`/system/logging: ${JSON.stringify(rules)}`);

  // What tools add: a logging action and a rule that uses it, a script, a scheduler entry.
  const action = `act${tag}`;
  await api.write('/system/logging/action/add', [`=name=${action}`, '=target=memory', '=memory-lines=100']);
  const [made] = await api.write('/system/logging/action/print', [`?name=${action}`]);
  if (!made || made['memory-lines'] !== '100') fail(`logging action: ${JSON.stringify(made)}`);
  await api.write('/system/logging/add', ['=topics=hotspot,info', `=action=${action}`]);
  await expectTrap(
    api.write('/system/logging/action/add', [`=name=${action}`, '=target=memory']),
    'already have',
    'a second logging action of the same name',
  );
  await api.write('/system/logging/action/remove', [`=.id=${made['.id']}`]);

  const script = `s-${tag}`;
  await api.write('/system/script/add', [`=name=${script}`, '=source=:log info "sold";', '=comment=mikhmon']);
  const [s] = await api.write('/system/script/print', [`?name=${script}`]);
  need(s || {}, ['.id', 'name', 'owner', 'policy', 'source', 'run-count'], '/system/script');
  const job = `j-${tag}`;
  await api.write('/system/scheduler/add', [`=name=${job}`, '=interval=1m', '=on-event=/log info tick']);
  const [j] = await api.write('/system/scheduler/print', [`?name=${job}`]);
  need(j || {}, ['.id', 'name', 'start-date', 'start-time', 'interval', 'on-event', 'owner', 'run-count'], '/system/scheduler');
  if (j.interval !== '1m') fail(`scheduler interval: ${JSON.stringify(j)}`);
  const iso = /^\d{4}-\d\d-\d\d$/.test(j['start-date']);
  const old = /^[a-z]{3}\/\d\d\/\d{4}$/.test(j['start-date']);
  const isoExpected = v7 && Number(version.split('.')[1]) >= 10;
  if (isoExpected ? !iso : !old) fail(`scheduler start-date ${j['start-date']} on ${version}`);
  await api.write('/system/scheduler/remove', [`=.id=${j['.id']}`]);
  await api.write('/system/script/remove', [`=.id=${s['.id']}`]);

  // The log takes lines and prints them with time, topics and message.
  await api.write('/log/info', [`=message=hello ${tag}`]);
  const log = await api.write('/log/print');
  const line = log.find((l) => l.message === `hello ${tag}`);
  if (!line) fail(`/log: no line "hello ${tag}" in ${JSON.stringify(log.slice(-3))}`);
  need(line, ['.id', 'time', 'topics', 'message'], '/log');

  await api.close();
  console.log('check_node_routeros: ok');
}

main().catch((e) => fail(`${e && e.stack ? e.stack : e}`));
