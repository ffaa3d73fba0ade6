// Prints, as JSON (an array of rows, each an array of strings or nulls), what DuckDB returns for each
// statement given; the last one's rows. Used by the tests to read Parquet files back independently.
import { DuckDBInstance } from '@duckdb/node-api';

const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
let rows = [];
for (const statement of process.argv.slice(2)) {
  const reader = await connection.runAndReadAll(statement);
  rows = reader.getRowsJson();
}
process.stdout.write(JSON.stringify(rows));
