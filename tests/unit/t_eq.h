/*
 * T_EQ for the unit tests: an equality assertion that prints both
 * expressions and both values ("a == b (3 == 4)", libuv's rule) with a
 * label saying which step of a table or scenario failed. Include after
 * <cmocka.h>.
 */
#ifndef CTGT_TESTS_UNIT_T_EQ_H
#define CTGT_TESTS_UNIT_T_EQ_H

#define T_EQ(label, a, b)                                                 \
	do {                                                              \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);   \
		if (t_a_ != t_b_)                                         \
			fail_msg("%s: %s == %s (%lld == %lld)", (label), #a, \
				 #b, t_a_, t_b_);                         \
	} while (0)

#endif
