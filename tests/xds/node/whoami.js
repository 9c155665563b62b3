// whoami.js: an independent xDS client for Jawlb's end-to-end tests, built on
// grpc-js and grpc-js-xds (installed here by scripts/install-deps.sh).
//
//   GRPC_XDS_BOOTSTRAP=bootstrap.json node whoami.js xds:///echo.test:50051 PROTO_DIR [WINDOW] [SECONDS]
//
// Calls jawlb.testing.Echo/Whoami in a loop and prints one line per window of
// WINDOW RPCs, naming (sorted) the backends that answered and the failures:
//
//   window 7: alpha,beta failed=0 calls=alpha:16,beta:14
//   window 8:  failed=30 calls= error=14 UNAVAILABLE: ...
//
// Runs SECONDS seconds, then exits 0.
'use strict';

const grpc = require('@grpc/grpc-js');
require('@grpc/grpc-js-xds').register();
const protoLoader = require('@grpc/proto-loader');

const [target, protoDir, windowArg, secondsArg] = process.argv.slice(2);
const window = Number(windowArg || 30);
const end = Date.now() + 1000 * Number(secondsArg || 120);

const definition = protoLoader.loadSync('jawlb/testing/echo.proto', {
  includeDirs: [protoDir],
});
const Echo = grpc.loadPackageDefinition(definition).jawlb.testing.Echo;
const client = new Echo(target, grpc.credentials.createInsecure());

function call() {
  return new Promise((resolve) => {
    client.Whoami({}, { deadline: Date.now() + 2000 }, (error, reply) => {
      resolve(error ? { error: `${error.code} ${error.details}` } : { name: reply.value });
    });
  });
}

async function main() {
  for (let n = 1; Date.now() < end; n++) {
    const seen = new Map();
    let failed = 0;
    let lastError = '';
    for (let i = 0; i < window; i++) {
      const result = await call();
      if (result.error) {
        failed++;
        lastError = result.error;
        await new Promise((r) => setTimeout(r, 10));
      } else {
        seen.set(result.name, (seen.get(result.name) || 0) + 1);
      }
    }
    const sorted = [...seen.keys()].sort();
    const calls = sorted.map((name) => `${name}:${seen.get(name)}`).join(',');
    console.log(`window ${n}: ${sorted.join(',')} failed=${failed} calls=${calls}` +
                `${lastError ? ' error=' + lastError : ''}`);
  }
  client.close();
  process.exit(0);
}

main();
