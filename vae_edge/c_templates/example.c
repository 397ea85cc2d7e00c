/* Decode latent codes from stdin to pixel probabilities on stdout, one code at a time.
 *
 * In:  N x VAE_DECODER_LATENT_DIM little-endian float32 values (N latent codes).
 * Out: N x VAE_DECODER_PIXELS little-endian float32 pixel probabilities, row-major
 *      VAE_DECODER_IMAGE_SIDE x VAE_DECODER_IMAGE_SIDE images.
 *
 * Build with `make`; for example `python -c "..." | ./example > probs.f32`.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vae_decoder.h"

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#endif

/* The byte streams are little-endian; a big-endian host swaps each float. */
static int host_is_big_endian(void) {
    const uint32_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 0;
}

static void swap_bytes(float *values, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        unsigned char b[sizeof(float)];
        memcpy(b, &values[i], sizeof b);
        unsigned char t = b[0];
        b[0] = b[3];
        b[3] = t;
        t = b[1];
        b[1] = b[2];
        b[2] = t;
        memcpy(&values[i], b, sizeof b);
    }
}

int main(void) {
    float z[1][VAE_DECODER_LATENT_DIM];
    float probs[1][VAE_DECODER_PIXELS];
    float logits[1][VAE_DECODER_PIXELS];
    const int swap = host_is_big_endian();
    size_t got;

#ifdef _WIN32
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
#endif
    /* Bytes, not floats: fread of whole floats would drop a last partial one unseen. */
    while ((got = fread(z[0], 1, sizeof z[0], stdin)) == sizeof z[0]) {
        if (swap) swap_bytes(z[0], VAE_DECODER_LATENT_DIM);
        /* The cast adds const, which ISO C before C23 does not do implicitly for arrays. */
        vae_decoder((const float (*)[VAE_DECODER_LATENT_DIM])z, probs, logits);
        if (swap) swap_bytes(probs[0], VAE_DECODER_PIXELS);
        if (fwrite(probs[0], sizeof(float), VAE_DECODER_PIXELS, stdout) != VAE_DECODER_PIXELS) {
            fprintf(stderr, "example: cannot write to stdout\n");
            return 1;
        }
    }
    if (ferror(stdin)) {
        fprintf(stderr, "example: cannot read stdin\n");
        return 1;
    }
    if (got != 0) {
        fprintf(stderr, "example: input ends inside a latent code; expected a multiple of %d "
                        "little-endian float32 values\n", VAE_DECODER_LATENT_DIM);
        return 1;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "example: cannot write to stdout\n");
        return 1;
    }
    return 0;
}
