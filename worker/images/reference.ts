// Image references live in api/image-reference.ts: the control API checks a service's image with the
// same grammar the node's image store parses it with.
export * from '../../api/image-reference.js';
