/** The error `f` throws; fails the test (by throwing) if `f` returns. */
export function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error, got none");
}

/** The message of the error `f` throws (the test fails if it returns): for asserting a whole message. */
export const messageOf = (f: () => unknown): string => errorOf(f).message;
