import { describe, expect, it } from 'vitest';
import { quantizationOf } from '../../../../agent/engines/llama-cpp.ts';

describe('quantizationOf', () => {
  it("names a GGUF's general.file_type as llama.cpp does", () => {
    expect(quantizationOf(3)).toBe('Q4_1'); // the demo model
    expect(quantizationOf(15)).toBe('Q4_K_M');
    expect(quantizationOf(7)).toBe('Q8_0');
    expect(quantizationOf(1)).toBe('F16');
    expect(quantizationOf(0)).toBe('F32');
    expect(quantizationOf(undefined)).toBeUndefined();
    expect(quantizationOf(9999)).toBeUndefined();
  });
});
