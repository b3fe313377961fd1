/** An error about a file the user gave: the message starts with the file's path, then what is wrong. */
export class FileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "FileError";
  }
}
