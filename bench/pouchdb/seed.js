// Fills a PouchDB server database with the benchmark's records as documents (not timed).
// usage: node seed.js <remote database URL> <records.json>
'use strict';
const fs = require('fs');
const PouchDB = require('pouchdb-node');

async function main() {
  const [remoteUrl, recordsPath] = process.argv.slice(2);
  const remote = new PouchDB(remoteUrl);
  const records = JSON.parse(fs.readFileSync(recordsPath, 'utf8'));
  const docs = records.map((r) => Object.assign({ _id: r.id, entity: r.entity }, r.data));
  for (let i = 0; i < docs.length; i += 1000) {
    const results = await remote.bulkDocs(docs.slice(i, i + 1000));
    const failed = results.filter((r) => r.error);
    if (failed.length) throw new Error(JSON.stringify(failed[0]));
  }
  const info = await remote.info();
  console.log(JSON.stringify({ docs: info.doc_count }));
}

main().catch((e) => { console.error(e); process.exit(1); });
