// Image locations moved to transport/ (docs/architecture.md); api/build.ts loads them from here.
export {
  formatImageLocation,
  type ImageLocation,
  parseImageLocation,
  TRANSPORTS,
} from '../transport/index.ts';
