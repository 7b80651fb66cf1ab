/** The engine's Session for code outside this package (the ClickHouse HTTP stand-in of the tests). */
export { Session } from 'chdb';
