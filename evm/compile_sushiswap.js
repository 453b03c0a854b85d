// Compile SushiSwap's V2 fork (Factory, Pair, Router02) from @sushiswap/core's Solidity sources with
// solc-js 0.6.12, the compiler its pragma pins; the package ships ABIs but no bytecode.
// A fork's router finds pairs by CREATE2 with the init code hash written into UniswapV2Library: the
// hash of *this* compilation of the Pair differs from mainnet's, so it is computed and written in
// before the router is compiled. Output: build/sushiswap.json {contract: {abi, bytecode}, initCodeHash}.
const fs = require("fs");
const path = require("path");
const solc = require("solc");
const { keccak256 } = require("js-sha3");

const root = path.join(__dirname, "node_modules", "@sushiswap", "core", "contracts", "uniswapv2");
const out = path.join(__dirname, "build", "sushiswap.json");

function sources(initCodeHash) {
  const files = {};
  const walk = (dir) => {
    for (const name of fs.readdirSync(dir)) {
      const full = path.join(dir, name);
      if (fs.statSync(full).isDirectory()) walk(full);
      else if (name.endsWith(".sol")) {
        let content = fs.readFileSync(full, "utf8");
        if (initCodeHash && name === "UniswapV2Library.sol") {
          content = content.replace(/hex'[0-9a-f]{64}' \/\/ init code hash/, `hex'${initCodeHash}' // init code hash`);
        }
        files[path.relative(root, full)] = { content };
      }
    }
  };
  walk(root);
  return files;
}

function compile(files, wanted) {
  const input = {
    language: "Solidity",
    sources: files,
    settings: { optimizer: { enabled: true, runs: 999999 }, outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const found = {};
  for (const [file, name] of wanted) {
    const c = output.contracts[file][name];
    found[name] = { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
  }
  return found;
}

const pair = compile(sources(null), [["UniswapV2Pair.sol", "UniswapV2Pair"]]).UniswapV2Pair;
const initCodeHash = keccak256(Buffer.from(pair.bytecode.slice(2), "hex"));
const built = compile(sources(initCodeHash), [
  ["UniswapV2Factory.sol", "UniswapV2Factory"],
  ["UniswapV2Pair.sol", "UniswapV2Pair"],
  ["UniswapV2Router02.sol", "UniswapV2Router02"],
]);
if (built.UniswapV2Pair.bytecode !== pair.bytecode) throw new Error("the Pair compiled differently twice");
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify({ ...built, initCodeHash: "0x" + initCodeHash }));
console.log(`wrote ${out} (init code hash 0x${initCodeHash})`);
