// Errors that reach a user. A UserError is printed as one line on stderr and ends the command with
// its exit code; anything else is a bug and is printed with its stack.

export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** A system tool swarmlite shells out to (ip, bridge, nft, ...) is not installed. */
export class MissingToolError extends UserError {
  constructor(
    readonly tool: string,
    readonly debianPackage: string,
  ) {
    super(
      `swarmlite needs the '${tool}' command (Debian/Ubuntu package ${debianPackage}): ` +
        `install it with 'apt-get install ${debianPackage}', or run 'bash deploy/setup.sh' as root`,
    );
    this.name = 'MissingToolError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
