// Compile PancakeSwap's router (PancakeRouter, its V2 Router02) from the Solidity sources of the npm
// package pancakeswap-peripheral 1.1.0-beta.0 (repository pancakeswap/pancake-swap-periphery), with
// solc-js 0.6.6, the compiler its pragma pins. Both packages are unpacked by `make setup` under
// build/pancakeswap: the core (Factory, Pair with bytecode) in package/, the periphery in periphery/.
// The router imports the core's interfaces as '@uniswap/v2-core/contracts/interfaces/IPancake*.sol'
// (PancakeSwap's fork of v2-core): those paths are served from the core package's own sources.
// PancakeLibrary finds pairs by CREATE2 with the init code hash written into it (BSC mainnet's
// factory's); a local factory deploys the npm Pair bytecode, whose hash is computed and written in.
// Output: build/pancakeswap/router.json {PancakeRouter: {abi, bytecode}, initCodeHash, shippedInitCodeHash}.
const fs = require("fs");
const path = require("path");
const solc = require("solc-0.6.6");
const { keccak256 } = require("js-sha3");

const dir = path.join(__dirname, "build", "pancakeswap");
const core = path.join(dir, "package");
const periphery = path.join(dir, "periphery", "package", "contracts");
const uniswapLib = path.join(__dirname, "node_modules", "@uniswap", "lib");
const out = path.join(dir, "router.json");
const HASH = /hex'([0-9a-f]{64})' \/\/ init code hash/;

const pairBytecode = JSON.parse(fs.readFileSync(path.join(core, "build", "PancakePair.json"), "utf8")).bytecode;
const initCodeHash = keccak256(Buffer.from(pairBytecode.replace(/^0x/, ""), "hex"));

const sources = {};
let shipped = null;
const walk = (root, prefix) => {
  for (const name of fs.readdirSync(root)) {
    const full = path.join(root, name);
    if (fs.statSync(full).isDirectory()) walk(full, `${prefix}${name}/`);
    else if (name.endsWith(".sol")) {
      let content = fs.readFileSync(full, "utf8");
      if (name === "PancakeLibrary.sol") {
        shipped = content.match(HASH)[1];
        content = content.replace(HASH, `hex'${initCodeHash}' // init code hash`);
      }
      sources[`${prefix}${name}`] = { content };
    }
  }
};
walk(periphery, "");

function findImports(wanted) {
  const map = [
    ["@uniswap/v2-core/contracts/", path.join(core, "contracts")],
    ["@uniswap/lib/contracts/", path.join(uniswapLib, "contracts")],
  ];
  for (const [prefix, root] of map) {
    if (wanted.startsWith(prefix)) {
      return { contents: fs.readFileSync(path.join(root, wanted.slice(prefix.length)), "utf8") };
    }
  }
  return { error: `not found: ${wanted}` };
}

const input = {
  language: "Solidity",
  sources: { "PancakeRouter.sol": sources["PancakeRouter.sol"], ...sources },
  settings: { optimizer: { enabled: true, runs: 999999 }, outputSelection: { "PancakeRouter.sol": { PancakeRouter: ["abi", "evm.bytecode.object"] } } },
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
const router = output.contracts["PancakeRouter.sol"].PancakeRouter;
const built = {
  PancakeRouter: { abi: router.abi, bytecode: "0x" + router.evm.bytecode.object },
  initCodeHash: "0x" + initCodeHash,
  shippedInitCodeHash: "0x" + shipped,
  compiler: solc.version(),
};
fs.writeFileSync(out, JSON.stringify(built));
console.log(`wrote ${out} (solc ${built.compiler}; init code hash 0x${initCodeHash}, the package's 0x${shipped})`);
