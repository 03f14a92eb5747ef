/**
 * The repository's root folder (where results/, data/ and scripts/ are), with a trailing "/" as
 * fileURLToPath gives a folder. One definition for every module that finds files of the checkout.
 */
import { fileURLToPath } from "node:url";

export const REPO_ROOT: string = fileURLToPath(new URL("../..", import.meta.url));
