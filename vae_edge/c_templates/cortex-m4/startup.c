/* Start-up of the Cortex-M4F image: the vector table, the FPU switched on, .data copied
 * from flash, .bss cleared, newlib's semihosting handles opened, then main() and _exit
 * (not exit, whose stdio clean-up would call malloc). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

extern uint32_t __stack_top__, __data_start__, __data_end__, __data_load__;
extern uint32_t __bss_start__, __bss_end__;
extern void initialise_monitor_handles(void);
extern int main(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

void reset_handler(void) {
    /* Full access to the coprocessors CP10 and CP11 (the FPU) before any float instruction. */
    SCB_CPACR |= 0xFu << 20;
    __asm volatile("dsb\n\tisb" ::: "memory");
    for (uint32_t *from = &__data_load__, *to = &__data_start__; to < &__data_end__;) {
        *to++ = *from++;
    }
    for (uint32_t *to = &__bss_start__; to < &__bss_end__;) {
        *to++ = 0;
    }
    initialise_monitor_handles();
    _exit(main());
}

/* A fault ends the run with status 3 instead of hanging the emulator. */
static void fault_handler(void) {
    _exit(3);
}

__attribute__((section(".vectors"), used)) static void (*const vectors[])(void) = {
    (void (*)(void))&__stack_top__, /* initial stack pointer */
    reset_handler,
    fault_handler, /* NMI */
    fault_handler, /* HardFault */
};

/* No heap: newlib's stdio links malloc, and any call of it fails instead of growing. */
void *_sbrk(ptrdiff_t increment) {
    (void)increment;
    errno = ENOMEM;
    return (void *)-1;
}
