// A registry's refusal or failure, with its HTTP status and the distribution API's error code.
import { UserError } from '../../../lib/errors.js';

export class RegistryError extends UserError {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}
