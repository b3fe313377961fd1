/**
 * The help of the subcommands that have their own (train's resuming, sample, encode, export): plain text,
 * apart from the commands themselves, which load TensorFlow.js, so that `vae-lab COMMAND --help` answers
 * without loading it. The general help and the other commands' options are in main.ts.
 */
export const RESUME_HELP = `Resuming (vae-lab train --resume DIR [--epochs N] [--out DIR2] [--data DIR] [--backend B] [--iwae-k N] [--iwae-images N]):
  continues the run saved in DIR — its model.json and training-state.json (Adam's step and moments, the
  random stream) — for --epochs N more epochs [as many as that run had], with that run's settings, and
  writes to --out [DIR itself]. 1 + 1 epochs give the same weights as 2 epochs in one run. --epochs 0
  trains no further: it evaluates the run and writes its outputs.
  An unfinished run: train keeps OUT/checkpoint, the run at the end of its last finished epoch, replaced
  after every epoch and removed with the final outputs, so that Ctrl-C, a kill or a crash loses at most the
  epoch under way. vae-lab train --resume OUT/checkpoint finishes that run [the epochs it had left], into
  OUT [the folder around the checkpoint]; a new run into OUT is refused while the checkpoint is there.
`;

export const SAMPLE_HELP = `vae-lab sample --model FILE [--n N] [--seed S] [--label L] [--out FILE] [--backend B]

Draw z ~ N(0, I) and decode it: the pixel means of p(x|z) of a checkpoint written by vae-lab train.
A conditional VAE (see vae-lab train --help) decodes each z under the class --label names (p(x|z, c)),
or, without --label, under every class in turn: N draws per class, the same N codes for each class.
The output format follows the extension of --out:
  .html   an image grid (self-contained page, works offline); a conditional model's: one row per class
  .json   { "n", "seed", "rows", "cols", "channels", "latentDim", "images": [[rows·cols·channels pixel means in 0..1], ...] }
          (channels 3: colour, each pixel's red, green and blue means side by side)
          and, from a conditional model, "classNames" and "labels" (the class of each image, an index)

Options:
  --model FILE           checkpoint to read (required)
  --n N                  number of samples [16]; at most 10000, and at most 16777216 pixel values in all
  --seed S               seed of the draws (same seed, same samples) [1]
  --label L              conditional models only: the class to draw, by name or index (e.g. 7) [every class]
  --out FILE             .html or .json [samples.html]
  --backend B            auto | tensorflow | wasm | cpu [auto]
`;

export const ENCODE_HELP = `vae-lab encode --model FILE --out FILE.json [--data PATH] [--dataset D] [--split S] [--limit N] [--backend B]

Encode images with the encoder of a checkpoint written by vae-lab train: for every image the mean and
log-variance of q(z|x), with its label. Without --data or --dataset, the images the model was trained on;
with them, other images. Either way they are read as the model's were (--size, --fit, --grey, the held-out
share, binarisation: the checkpoint records them), and a flag given here replaces what it names. A
conditional VAE's encoder reads the label too (q(z|x, c)), and the file then says "conditionedOn": "class".
Writes JSON:
  { "split", "count", "latentDim", "classNames": [...], "labels": [...], "mu": [[...], ...], "logVar": [[...], ...] }
(labels index classNames; −1 for images without a label)

Options:
  --model FILE           checkpoint to read (required)
  --out FILE             JSON file to write (required)
  --data PATH            as train's: IDX files, a folder of PNG/JPEG images, a .npy file or folder [the model's data]
  --dataset D            mnist | fashion-mnist [the model's data]
  --size N               as train's: resize every image to N×N or HxW [as the model's were read]
  --fit F                as train's: crop | pad | stretch, with --size [as the model's were read]
  --grey                 as train's: read colour images as grey [as the model's were read]
  --test-fraction X      as train's: the share held out where the data have no test split [as recorded, or 0.1]
  --labels FILE          as train's: the labels of a .npy file of images
  --split S              test | train [test]
  --limit N              encode only the first N images [all]
  --backend B            auto | tensorflow | wasm | cpu [auto]
`;

export const EXPORT_HELP = `vae-lab export --model FILE --out DIR [--backend B]

Write the model of a checkpoint (the model.json that vae-lab train writes) as two TensorFlow.js Layers
models that tf.loadLayersModel loads in Node or a browser, each a folder with model.json and weights.bin:
  DIR/encoder/   x [batch, 784] → [μ, log σ²], two outputs of [batch, latent dimensions]
  DIR/decoder/   z [batch, latent dimensions] → pixel means [batch, 784] (the sigmoid of the logits)
A conditional VAE's models take the class as a second input c [batch, classes], one-hot: the encoder
[x, c] and the decoder [z, c], each concatenating c after its first input.

Options:
  --model FILE           checkpoint to read (required)
  --out DIR              output folder (required)
  --backend B            auto | tensorflow | wasm | cpu [auto]
`;
