// Times PouchDB replicating a server database into a fresh local LevelDB database, as a
// device's first sync would, and reports this process's peak memory.
// usage: node replicate.js <remote database URL> <local folder>
'use strict';
const PouchDB = require('pouchdb-node');

async function main() {
  const [remoteUrl, localPath] = process.argv.slice(2);
  const local = new PouchDB(localPath);
  const started = process.hrtime.bigint();
  // Batches of 1,000, as the offgen client's pull pages.
  const result = await PouchDB.replicate(remoteUrl, local, { batch_size: 1000 });
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  if (!result.ok) throw new Error(JSON.stringify(result));
  const info = await local.info();
  console.log(JSON.stringify({
    secs,
    docs: info.doc_count,
    docs_written: result.docs_written,
    peak_kib: process.resourceUsage().maxRSS,
  }));
}

main().catch((e) => { console.error(e); process.exit(1); });
