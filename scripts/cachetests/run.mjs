// Runs the HTTP caching tests (npm http-cache-tests, the suite behind
// cache-tests.fyi) against a cache and scores them with the suite's own
// determineTestResult, honouring test dependencies.
//
//   CACHE_TESTS_DIR=.../node_modules/http-cache-tests \
//     node run.mjs http://site.example:8080 127.0.0.1
//
// The second argument, when given, is the address every request connects
// to whatever the URL's host (so the base URL can carry the site's
// hostname). Prints one JSON document: counts by kind and outcome, and the
// per-test results.
import { createRequire } from 'node:module'
import http from 'node:http'
import path from 'node:path'

const dir = process.env.CACHE_TESTS_DIR
if (!dir) {
  console.error('CACHE_TESTS_DIR is not set')
  process.exit(2)
}
const [base, connectTo, only] = process.argv.slice(2)
const require = createRequire(path.join(dir, 'package.json'))
const nodeFetch = require('node-fetch')
const { runTests, getResults } = await import(path.join(dir, 'client/runner.mjs'))
const display = await import(path.join(dir, 'lib/display.mjs'))
const tests = (await import(path.join(dir, 'tests/index.mjs'))).default
tests.push((await import(path.join(dir, 'tests/surrogate-control.mjs'))).default)

const agent = new http.Agent({
  keepAlive: true,
  lookup: connectTo
    ? (host, opts, cb) => opts && opts.all ? cb(null, [{ address: connectTo, family: 4 }]) : cb(null, connectTo, 4)
    : undefined
})
const fetch = (url, init) => nodeFetch(url, { ...init, agent })

if (only) {
  for (const suite of tests) {
    suite.tests = suite.tests.filter(t => t.id === only || (t.depends_on || []).length === 0 && false)
    for (const t of suite.tests) t.dump = true
  }
}
await runTests(tests, fetch, false, base)
const results = getResults()
const counts = {}
const outcomes = {}
for (const suite of tests) {
  for (const test of suite.tests) {
    if (test.browser_only) continue
    const kind = test.kind || 'required'
    const r = display.determineTestResult(tests, test.id, results)
    let outcome = 'other'
    for (const [name, sym] of Object.entries({ pass: '✅', fail: '⛔️', optional_fail: '⚠️', yes: 'Y', no: 'N', setup_fail: '🔹', harness_fail: '⁉️', dependency_fail: '⚪️', retry: '↻', untested: '-' })) {
      if (r[2] === sym) outcome = name
    }
    counts[kind] = counts[kind] || {}
    counts[kind][outcome] = (counts[kind][outcome] || 0) + 1
    outcomes[test.id] = { kind, outcome, detail: results[test.id] === true ? '' : (results[test.id] || [])[1] || '' }
  }
}
console.log(JSON.stringify({ counts, tests: outcomes }, null, 1))
agent.destroy()
