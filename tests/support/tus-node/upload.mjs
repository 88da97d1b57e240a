// tus-js-client (the client of Uppy and most web uploaders) uploading one file from Node.js, for
// the hub's interoperability tests. Usage: node upload.mjs OPTIONS_JSON
// OPTIONS_JSON: endpoint, file, headers, metadata, chunkSize, parallelUploads, store (a file
// for FileUrlStorage: a later run with the same store resumes the same upload).
// Prints "PROGRESS <bytes>" as bytes are acknowledged, "URL <url>" on success; on an error
// prints "ERROR <message>" and exits 1.
import fs from "node:fs";
import { FileUrlStorage, Upload } from "tus-js-client";

const options = JSON.parse(process.argv[2]);
const upload = new Upload(fs.createReadStream(options.file), {
  endpoint: options.endpoint,
  headers: options.headers ?? {},
  metadata: options.metadata ?? {},
  chunkSize: options.chunkSize ?? 1024 * 1024,
  parallelUploads: options.parallelUploads ?? 1,
  urlStorage: new FileUrlStorage(options.store),
  storeFingerprintForResuming: true,
  removeFingerprintOnSuccess: false,
  retryDelays: [0, 500, 1000, 2000],
  onChunkComplete: (_size, accepted) => console.log(`PROGRESS ${accepted}`),
  onError: (error) => {
    console.log(`ERROR ${error.message ?? error}`);
    process.exit(1);
  },
  onSuccess: () => {
    console.log(`URL ${upload.url}`);
    process.exit(0);
  },
});
const previous = await upload.findPreviousUploads();
if (previous.length > 0) {
  upload.resumeFromPreviousUpload(previous[0]);
}
upload.start();
