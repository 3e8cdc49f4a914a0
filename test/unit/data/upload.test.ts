// What an uploaded file's bytes may be: a plain name, real base64, something in it.
import { describe, expect, it } from 'vitest';
import { uploadBytes, uploadFolderName } from '../../../main/core/data/upload.js';

describe('uploadBytes', () => {
  it('keeps text as UTF-8 bytes and decodes base64', () => {
    expect(
      uploadBytes({ fileName: 'a.csv', content: 'q,a\nçà,ü\n', encoding: 'utf8' }).toString('utf8'),
    ).toBe('q,a\nçà,ü\n');
    const bytes = Buffer.from([0x50, 0x41, 0x52, 0x31, 0, 255]);
    expect(
      uploadBytes({ fileName: 'a.parquet', content: bytes.toString('base64'), encoding: 'base64' }),
    ).toEqual(bytes);
  });

  it('refuses names that are folders or reach outside the upload folder', () => {
    for (const fileName of ['..', '.', 'a/b.csv', 'a\\b.csv', '  ', 'a\0.csv']) {
      expect(() => uploadBytes({ fileName, content: 'x', encoding: 'utf8' }), fileName).toThrow(
        expect.objectContaining({ code: 'bad-option' }),
      );
    }
  });

  it('refuses empty files and text that is not base64', () => {
    expect(() => uploadBytes({ fileName: 'a.csv', content: '', encoding: 'utf8' })).toThrow(
      expect.objectContaining({ code: 'empty-file', hint: expect.any(String) }),
    );
    expect(() => uploadBytes({ fileName: 'a.parquet', content: 'not base64!', encoding: 'base64' })).toThrow(
      expect.objectContaining({ code: 'bad-option' }),
    );
  });

  it('names each upload folder apart, in time order', () => {
    const a = uploadFolderName(1000);
    const b = uploadFolderName(1000);
    expect(a).not.toBe(b);
    expect(a.startsWith('1000-')).toBe(true);
  });
});
