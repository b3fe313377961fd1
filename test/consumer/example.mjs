// example.mjs — an ES module (it uses top-level await): save it under that name and run `node example.mjs`
import { initBackend, loadMnist, Vae, trainVae, iwaeNll, latentExplorerHtml, saveHtml } from "vae-lab";

console.log((await initBackend()).summary);
const train = loadMnist({ split: "train", limit: 10000 });
const test = loadMnist({ split: "test", limit: 2000 });
const vae = new Vae({ latentDim: 2, hiddenDims: [400], seed: 1 });
const history = trainVae(vae, train, test, { epochs: 3, seed: 1 });
const nll = iwaeNll(vae, test, { k: 100, limit: 200, seed: 1 });
console.log(`test −ELBO ${history.at(-1).testLoss.toFixed(1)} nats, IWAE −log p(x) ≈ ${nll.toFixed(1)} nats`);
saveHtml("latent.html", [{ html: latentExplorerHtml(vae, test, { includePlotly: false }) }], "latent explorer");
vae.dispose();
