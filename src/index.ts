/** rxvoice: Discord voice on RxJS observables. */
export * from './errors';
export * from './gateway';
export * from './sources';
