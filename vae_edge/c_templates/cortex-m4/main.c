/* Decodes VAE_BOARD_CODES fixed latent codes on the chip and writes, through semihosting,
 * one line per value: `z BITS` for each value of the code, `systick TICKS` for the
 * SysTick ticks the call took (core cycles on a real chip), then `p BITS` for each pixel
 * probability; BITS are the float's IEEE-754 bits in 8 hex digits, exact without printf.
 *
 * The codes come from xorshift32: each value is the top 24 bits of the next state as a
 * signed integer times 2^-22, so in [-2, 2) and exact in float32. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../vae_decoder.h"

#ifndef VAE_BOARD_CODES
#define VAE_BOARD_CODES 4
#endif

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static uint32_t state = 2463534242u;

static float next_value(void) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return (float)((int32_t)state >> 8) * 0x1p-22f;
}

/* Writes "TAG VALUE\n", VALUE in decimal, or in 8 hex digits when `hex`. */
static void write_line(const char *tag, uint32_t value, int hex) {
    const uint32_t base = hex ? 16u : 10u;
    char line[24], digits[10];
    size_t length = strlen(tag);
    int count = 0;
    memcpy(line, tag, length);
    line[length++] = ' ';
    do {
        digits[count++] = "0123456789abcdef"[value % base];
        value /= base;
    } while (value != 0 || (hex && count < 8));
    while (count > 0) line[length++] = digits[--count];
    line[length++] = '\n';
    write(1, line, length);
}

static void write_floats(const char *tag, const float *values, int count) {
    for (int i = 0; i < count; ++i) {
        uint32_t bits;
        memcpy(&bits, &values[i], sizeof bits);
        write_line(tag, bits, 1);
    }
}

int main(void) {
    float z[1][VAE_DECODER_LATENT_DIM];
    float probs[1][VAE_DECODER_PIXELS], logits[1][VAE_DECODER_PIXELS];
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 5u; /* enabled, counting the processor clock, no interrupt */
    for (int code = 0; code < VAE_BOARD_CODES; ++code) {
        for (int i = 0; i < VAE_DECODER_LATENT_DIM; ++i) z[0][i] = next_value();
        write_floats("z", z[0], VAE_DECODER_LATENT_DIM);
        const uint32_t started = SYST_CVR;
        vae_decoder((const float (*)[VAE_DECODER_LATENT_DIM])z, probs, logits);
        write_line("systick", (started - SYST_CVR) & 0xFFFFFFu, 0); /* counts down, 24 bits */
        write_floats("p", probs[0], VAE_DECODER_PIXELS);
    }
    return 0;
}
